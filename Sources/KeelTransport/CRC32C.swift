/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every frame.
///
/// Table-driven, one byte at a time: frames are at most a few MiB and the checksum is far cheaper
/// than the syscalls that carry them. Check value: CRC32C("123456789") == 0xE3069283.
enum CRC32C {
    private static let polynomialReflected: UInt32 = 0x82F6_3B78

    private static let table: [UInt32] = (0..<256).map { byte in
        var crc = UInt32(byte)
        for _ in 0..<8 {
            crc = (crc & 1) != 0 ? (crc >> 1) ^ polynomialReflected : crc >> 1
        }
        return crc
    }

    /// Continues a checksum over `bytes`. Start with `0`; the result of one call may be passed as
    /// `crc` to the next to checksum discontiguous pieces.
    static func update<Bytes: Sequence>(_ crc: UInt32, _ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        var value = ~crc
        table.withUnsafeBufferPointer { table in
            for byte in bytes {
                value = table[Int((value ^ UInt32(byte)) & 0xFF)] ^ (value >> 8)
            }
        }
        return ~value
    }

    /// The checksum of a byte buffer region.
    static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        update(crc, bytes)
    }
}
