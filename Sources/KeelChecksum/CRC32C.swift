import CKeelCRC32C

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum iSCSI, ext4 and RocksDB use,
/// and the one Keel puts on its stored records, snapshot streams and peer frames.
/// Detects every burst error up to 32 bits, so a flipped bit in a stored record cannot pass.
///
/// The log's append path checksums every entry it writes, so speed matters: the CPU's CRC-32C
/// instruction does the work where there is one (SSE 4.2, ARMv8 CRC; about ten times faster in
/// storage-bench's profile), and eight lookup tables eight bytes at a time ("slicing-by-8") elsewhere.
public enum CRC32C {
    /// Whether ``update(_:_:)-(UInt32,UnsafeRawBufferPointer)`` uses the CPU's CRC-32C instruction.
    public static let usesHardware = keel_crc32c_hardware_available() == 1

    private static let polynomial: UInt32 = 0x82F6_3B78
    /// `tables[k][b]` is the CRC of byte `b` followed by `k` zero bytes.
    private static let tables: [UInt32] = {
        var tables = [UInt32](repeating: 0, count: 8 * 256)
        for byte in 0..<256 {
            var crc = UInt32(byte)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ polynomial : crc >> 1 }
            tables[byte] = crc
        }
        for slice in 1..<8 {
            for byte in 0..<256 {
                let previous = tables[(slice - 1) * 256 + byte]
                tables[slice * 256 + byte] = (previous >> 8) ^ tables[Int(previous & 0xFF)]
            }
        }
        return tables
    }()

    /// Extends a running checksum (start with 0) over more bytes.
    public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard usesHardware else { return updateInSoftware(crc, bytes) }
        guard let base = bytes.baseAddress else { return crc }
        return ~keel_crc32c_hardware_extend(~crc, base, bytes.count)
    }

    /// ``update(_:_:)-(UInt32,UnsafeRawBufferPointer)`` without the CPU instruction: the fallback,
    /// public so tests can hold both to the same answers.
    public static func updateInSoftware(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var value = ~crc
        tables.withUnsafeBufferPointer { table in
            var offset = 0
            let count = bytes.count
            while count - offset >= 8 {
                let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                let low = value ^ UInt32(truncatingIfNeeded: word)
                let high = UInt32(truncatingIfNeeded: word >> 32)
                value = table[7 * 256 + Int(low & 0xFF)] ^ table[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ table[5 * 256 + Int((low >> 16) & 0xFF)] ^ table[4 * 256 + Int(low >> 24)]
                    ^ table[3 * 256 + Int(high & 0xFF)] ^ table[2 * 256 + Int((high >> 8) & 0xFF)]
                    ^ table[1 * 256 + Int((high >> 16) & 0xFF)] ^ table[Int(high >> 24)]
                offset += 8
            }
            while offset < count {
                value = table[Int((value ^ UInt32(bytes[offset])) & 0xFF)] ^ (value >> 8)
                offset += 1
            }
        }
        return ~value
    }

    /// Extends a running checksum over an array or a slice of one.
    public static func update<C: ContiguousCollection>(_ crc: UInt32, _ bytes: C) -> UInt32 where C.Element == UInt8 {
        bytes.withUnsafeBytesOfContiguousStorage { update(crc, $0) }
    }

    /// The checksum of some bytes.
    public static func checksum<C: ContiguousCollection>(_ bytes: C) -> UInt32 where C.Element == UInt8 { update(0, bytes) }
}

/// Collections whose elements are stored contiguously, so checksums can run over raw memory.
public protocol ContiguousCollection: Collection {
    /// Calls `body` with the elements' bytes.
    func withUnsafeBytesOfContiguousStorage<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: ContiguousCollection {
    /// Calls `body` with the array's bytes.
    public func withUnsafeBytesOfContiguousStorage<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(body)
    }
}

extension ArraySlice: ContiguousCollection {
    /// Calls `body` with the slice's bytes.
    public func withUnsafeBytesOfContiguousStorage<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(body)
    }
}
