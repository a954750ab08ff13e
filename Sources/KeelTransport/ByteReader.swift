import NIOCore

/// Throwing reads over a ``ByteBuffer`` for the decoders: every length read from the wire is
/// checked against the bytes actually present before anything is allocated, so a forged length
/// costs nothing.
struct ByteReader {
    var buffer: ByteBuffer
    /// What is being decoded, for error messages.
    let context: String

    init(_ buffer: ByteBuffer, context: String) {
        self.buffer = buffer
        self.context = context
    }

    var remaining: Int { buffer.readableBytes }

    func malformed(_ what: String) -> TransportError {
        TransportError(.malformed, "\(context): \(what)")
    }

    mutating func u8(_ field: String) throws(TransportError) -> UInt8 {
        guard let value = buffer.readInteger(as: UInt8.self) else { throw malformed("truncated at \(field)") }
        return value
    }

    mutating func u32(_ field: String) throws(TransportError) -> UInt32 {
        guard let value = buffer.readInteger(as: UInt32.self) else { throw malformed("truncated at \(field)") }
        return value
    }

    mutating func u64(_ field: String) throws(TransportError) -> UInt64 {
        guard let value = buffer.readInteger(as: UInt64.self) else { throw malformed("truncated at \(field)") }
        return value
    }

    mutating func bool(_ field: String) throws(TransportError) -> Bool {
        switch try u8(field) {
        case 0: return false
        case 1: return true
        case let other: throw malformed("\(field) is \(other), not a boolean")
        }
    }

    /// A count of items that each take at least `itemBytesMin` bytes: refused if the rest of the
    /// payload cannot hold that many, so the caller may reserve capacity for it.
    mutating func count(_ field: String, itemBytesMin: Int) throws(TransportError) -> Int {
        let count = Int(try u32(field))
        guard count <= remaining / max(itemBytesMin, 1) else {
            throw malformed("\(field) says \(count) items but only \(remaining) bytes remain")
        }
        return count
    }

    /// `UInt32` length then that many bytes.
    mutating func bytes(_ field: String) throws(TransportError) -> [UInt8] {
        let length = Int(try u32("\(field) length"))
        guard length <= remaining else {
            throw malformed("\(field) length \(length) exceeds the \(remaining) bytes remaining")
        }
        return buffer.readBytes(length: length) ?? []
    }

    mutating func string(_ field: String) throws(TransportError) -> String {
        String(decoding: try bytes(field), as: UTF8.self)
    }

    /// Refuses trailing garbage after the last field.
    func expectEnd() throws(TransportError) {
        guard remaining == 0 else { throw malformed("\(remaining) unexpected trailing bytes") }
    }
}

extension ByteBuffer {
    /// `UInt32` length then the bytes: the counterpart of ``ByteReader/bytes(_:)``.
    mutating func writeLengthPrefixed(_ bytes: [UInt8]) {
        precondition(bytes.count <= UInt32.max, "a field of \(bytes.count) bytes does not fit the UInt32 length")
        writeInteger(UInt32(bytes.count))
        writeBytes(bytes)
    }

    mutating func writeLengthPrefixed(_ string: String) {
        writeLengthPrefixed(Array(string.utf8))
    }

    mutating func writeBool(_ value: Bool) {
        writeInteger(value ? UInt8(1) : UInt8(0))
    }
}
