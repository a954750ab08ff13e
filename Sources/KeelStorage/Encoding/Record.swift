import KeelChecksum

/// The frame around every value KeelStorage stores: `[format version u8][payload][crc32c u32]`, the
/// checksum covering version and payload. A flipped bit fails the checksum and is reported with the
/// record's name instead of being decoded into a plausible but wrong value.
enum Record {
    /// The frame format this build writes and reads.
    static let formatVersion: UInt8 = 1
    /// Version byte plus checksum.
    static let overheadBytes = 5

    static func seal(_ payload: [UInt8]) -> [UInt8] {
        var writer = begin(capacity: payload.count)
        writer.raw(payload)
        return seal(writer)
    }

    /// Starts a frame to write the payload into directly, saving a copy on hot paths.
    static func begin(capacity: Int) -> ByteWriter {
        var writer = ByteWriter(capacity: capacity + overheadBytes)
        writer.u8(formatVersion)
        return writer
    }

    /// Finishes a frame started with ``begin(capacity:)``.
    static func seal(_ writer: consuming ByteWriter) -> [UInt8] {
        // Consuming, so the checksum is appended in place instead of to a copy of the frame.
        writer.u32(CRC32C.checksum(writer.bytes))
        return writer.bytes
    }

    /// Checks a frame and returns a reader positioned on its payload.
    static func open(_ bytes: [UInt8], what: @autoclosure @escaping () -> String) throws -> ByteReader {
        guard bytes.count >= overheadBytes else {
            throw StorageError.corruption("\(what()): record of \(bytes.count) bytes is too short")
        }
        let bodyEnd = bytes.count - 4
        var trailer = ByteReader(bytes, what: what(), from: bodyEnd)
        let stored = try trailer.u32()
        let computed = CRC32C.checksum(bytes[0..<bodyEnd])
        guard stored == computed else {
            throw StorageError.corruption(
                "\(what()): checksum mismatch (stored \(hex(stored)), computed \(hex(computed)))")
        }
        guard bytes[0] == formatVersion else {
            throw StorageError(.unsupportedVersion, "\(what()): record format version \(bytes[0]), expected \(formatVersion)")
        }
        return ByteReader(bytes, what: what(), from: 1, to: bodyEnd)
    }

    private static func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16) }
}
