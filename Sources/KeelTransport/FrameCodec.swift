import NIOCore
import KeelChecksum

/// Turns payloads into frames and a byte stream back into frames (see ``WireFormat``).
enum FrameCodec {
    /// Builds one frame: length prefix, version, kind, checksum, payload.
    static func encode(kind: WireFormat.Kind, payload: ByteBuffer, allocator: ByteBufferAllocator = .init()) -> ByteBuffer {
        let length = WireFormat.headerBytes + payload.readableBytes
        precondition(length <= WireFormat.frameBytesMax, "a \(kind) frame of \(length) bytes exceeds frameBytesMax")
        var frame = allocator.buffer(capacity: WireFormat.lengthPrefixBytes + length)
        frame.writeInteger(UInt32(length))
        frame.writeInteger(WireFormat.version)
        frame.writeInteger(kind.rawValue)
        frame.writeInteger(checksum(kind: kind.rawValue, payload: payload))
        var payload = payload
        frame.writeBuffer(&payload)
        return frame
    }

    /// Takes the next whole frame off the front of `buffer`, or returns nil (consuming nothing) if
    /// the frame is not complete yet. Throws as soon as the length prefix or header is bad, before
    /// waiting for (or allocating) the body, so a forged length never makes the receiver buffer it.
    static func decode(from buffer: inout ByteBuffer) throws(TransportError) -> Frame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length <= WireFormat.frameBytesMax else {
            throw TransportError(.frameTooLarge, "frame length \(length) exceeds the maximum \(WireFormat.frameBytesMax) bytes")
        }
        guard Int(length) >= WireFormat.headerBytes else {
            throw TransportError(.frameTooSmall, "frame length \(length) is below the \(WireFormat.headerBytes)-byte header")
        }
        if let version = buffer.getInteger(at: buffer.readerIndex + WireFormat.lengthPrefixBytes, as: UInt8.self),
            version != WireFormat.version
        {
            throw TransportError(.unsupportedVersion, "frame format version \(version); this build speaks \(WireFormat.version)")
        }
        let total = WireFormat.lengthPrefixBytes + Int(length)
        guard buffer.readableBytes >= total else { return nil }
        buffer.moveReaderIndex(forwardBy: WireFormat.lengthPrefixBytes + 1)
        let kindByte = buffer.readInteger(as: UInt8.self)!
        let expected = buffer.readInteger(as: UInt32.self)!
        let payload = buffer.readSlice(length: Int(length) - WireFormat.headerBytes)!
        let actual = checksum(kind: kindByte, payload: payload)
        guard actual == expected else {
            throw TransportError(.checksumMismatch, "frame checksum \(hex(actual)) does not match the header's \(hex(expected))")
        }
        guard let kind = WireFormat.Kind(rawValue: kindByte) else {
            throw TransportError(.unknownFrameKind, "unknown frame kind \(kindByte)")
        }
        return Frame(kind: kind, payload: payload)
    }

    /// Called at end of stream: leftover bytes are a frame cut short.
    static func checkNothingLeft(_ buffer: ByteBuffer) throws(TransportError) {
        guard buffer.readableBytes == 0 else {
            throw TransportError(.truncated, "the connection ended inside a frame (\(buffer.readableBytes) bytes left)")
        }
    }

    private static func checksum(kind: UInt8, payload: ByteBuffer) -> UInt32 {
        let crc = CRC32C.update(0, [kind])
        return payload.withUnsafeReadableBytes { CRC32C.update(crc, $0) }
    }

    private static func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16) }
}
