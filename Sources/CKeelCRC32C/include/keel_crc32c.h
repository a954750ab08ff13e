#ifndef KEEL_CRC32C_H
#define KEEL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Whether this CPU has a CRC-32C instruction this build can use (SSE 4.2 on x86-64, the CRC
/// extension on 64-bit ARM). Checked once at run time, because a binary built here may run on an
/// older machine.
int keel_crc32c_hardware_available(void);

/// Extends the raw (not inverted) CRC-32C register `crc` over `count` bytes at `bytes` with the CPU's
/// instruction. Call only when `keel_crc32c_hardware_available()` returned 1.
uint32_t keel_crc32c_hardware_extend(uint32_t crc, const void *bytes, size_t count);

#endif
