// CRC-32C with the CPU's own instruction. Swift cannot emit SSE 4.2 or ARM CRC instructions
// directly, and the log's append path checksums every entry it writes, so this small C file does.
// The instruction computes exactly the reflected Castagnoli polynomial (0x82F63B78) that the
// Swift table-driven fallback computes; the tests compare the two at every length and alignment.
#include "keel_crc32c.h"

#include <string.h>

#if defined(__x86_64__)

#include <cpuid.h>

int keel_crc32c_hardware_available(void) {
    // CPUID leaf 1 directly: __builtin_cpu_supports needs a symbol from the compiler's runtime
    // library, which a Swift package's link line may not bring in.
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    return (ecx & bit_SSE4_2) ? 1 : 0;
}

__attribute__((target("sse4.2")))
uint32_t keel_crc32c_hardware_extend(uint32_t crc, const void *bytes, size_t count) {
    const unsigned char *p = bytes;
    uint64_t value = crc;
    // Byte steps until 8-byte alignment, so the word loop never loads across a cache line it need not.
    while (count > 0 && ((uintptr_t)p & 7) != 0) {
        value = __builtin_ia32_crc32qi((uint32_t)value, *p);
        p++;
        count--;
    }
    while (count >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        value = __builtin_ia32_crc32di(value, word);
        p += 8;
        count -= 8;
    }
    while (count > 0) {
        value = __builtin_ia32_crc32qi((uint32_t)value, *p);
        p++;
        count--;
    }
    return (uint32_t)value;
}

#elif defined(__aarch64__) && (defined(__linux__) || defined(__APPLE__)) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__

#if defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#endif

int keel_crc32c_hardware_available(void) {
#if defined(__APPLE__)
    return 1;  // every Apple arm64 CPU has the CRC extension (ARMv8.1 and later)
#else
    return (getauxval(AT_HWCAP) & HWCAP_CRC32) ? 1 : 0;
#endif
}

__attribute__((target("crc")))
uint32_t keel_crc32c_hardware_extend(uint32_t crc, const void *bytes, size_t count) {
    const unsigned char *p = bytes;
    // Words are loaded in the CPU's byte order, which this branch requires to be little-endian,
    // the order the reflected CRC consumes bytes in.
    while (count >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        crc = __builtin_arm_crc32cd(crc, word);
        p += 8;
        count -= 8;
    }
    while (count > 0) {
        crc = __builtin_arm_crc32cb(crc, *p);
        p++;
        count--;
    }
    return crc;
}

#else

int keel_crc32c_hardware_available(void) { return 0; }

uint32_t keel_crc32c_hardware_extend(uint32_t crc, const void *bytes, size_t count) {
    // The Swift side checks keel_crc32c_hardware_available() first; a call here is a bug, and a
    // wrong checksum would be worse than a crash.
    (void)crc;
    (void)bytes;
    (void)count;
    __builtin_trap();
}

#endif
