import NIOCore
import Raft

/// Splits a Raft snapshot message into a begin frame and image chunks of at most `chunkBytes`.
/// The sender builds one chunk at a time (only when the connection is writable), so a large image
/// is never copied into socket buffers all at once.
enum SnapshotSplitter {
    /// The first frame: the message without its image, and the image's size.
    static func beginFrame(for message: Message, streamID: UInt64) -> ByteBuffer {
        guard let snapshot = message.snapshot else { preconditionFailure("not a snapshot message") }
        var header = message
        header.snapshot?.data = []
        let begin = SnapshotBegin(streamID: streamID, totalBytes: UInt64(snapshot.data.count), header: header)
        return FrameCodec.encode(kind: .snapshotBegin, payload: begin.encoded())
    }

    /// The chunk frame starting at `offset`, and the offset after it.
    static func chunkFrame(image: [UInt8], offset: Int, chunkBytes: Int, streamID: UInt64) -> (frame: ByteBuffer, end: Int) {
        precondition(chunkBytes > 0, "snapshot chunks need a positive size")
        precondition(offset < image.count, "no image bytes left at offset \(offset)")
        let end = min(offset + chunkBytes, image.count)
        var bytes = ByteBufferAllocator().buffer(capacity: end - offset)
        bytes.writeBytes(image[offset..<end])
        let chunk = SnapshotChunk(streamID: streamID, offset: UInt64(offset), bytes: bytes)
        return (FrameCodec.encode(kind: .snapshotChunk, payload: chunk.encoded()), end)
    }

    /// All frames, in order, that carry `message` (tests and tools).
    static func frames(for message: Message, streamID: UInt64, chunkBytes: Int) -> [ByteBuffer] {
        let image = message.snapshot?.data ?? []
        var frames = [beginFrame(for: message, streamID: streamID)]
        var offset = 0
        while offset < image.count {
            let (frame, end) = chunkFrame(image: image, offset: offset, chunkBytes: chunkBytes, streamID: streamID)
            frames.append(frame)
            offset = end
        }
        return frames
    }
}

/// Reassembles one snapshot at a time on an inbound connection. Chunks must arrive in order
/// (TCP keeps them so); the image may not exceed `totalBytesMax`, checked against the declared
/// size before anything is buffered.
struct SnapshotAssembler {
    let totalBytesMax: Int
    private var streamID: UInt64 = 0
    private var header: Message?
    private var expectedBytes = 0
    private var image: [UInt8] = []

    init(totalBytesMax: Int) {
        self.totalBytesMax = totalBytesMax
    }

    /// Whether a snapshot is being received.
    var inProgress: Bool { header != nil }

    /// Starts a stream; returns the message at once if the image is empty.
    mutating func begin(_ begin: SnapshotBegin) throws(TransportError) -> Message? {
        guard header == nil else {
            throw TransportError(.protocolViolation, "snapshot stream \(begin.streamID) began before stream \(streamID) ended")
        }
        guard begin.totalBytes <= UInt64(totalBytesMax) else {
            throw TransportError(.snapshotTooLarge,
                                 "snapshot image of \(begin.totalBytes) bytes exceeds the bound of \(totalBytesMax) bytes")
        }
        streamID = begin.streamID
        expectedBytes = Int(begin.totalBytes)
        header = begin.header
        image = []
        return expectedBytes == 0 ? finish() : nil
    }

    /// Adds a chunk; returns the whole message after the last one.
    mutating func add(_ chunk: SnapshotChunk) throws(TransportError) -> Message? {
        guard header != nil, chunk.streamID == streamID else {
            throw TransportError(.protocolViolation, "snapshot chunk for stream \(chunk.streamID), which was not begun")
        }
        guard chunk.offset == UInt64(image.count) else {
            throw TransportError(.protocolViolation, "snapshot chunk at offset \(chunk.offset), expected \(image.count)")
        }
        guard chunk.bytes.readableBytes > 0, image.count + chunk.bytes.readableBytes <= expectedBytes else {
            throw TransportError(.protocolViolation,
                                 "snapshot chunk of \(chunk.bytes.readableBytes) bytes at \(chunk.offset) overruns the declared \(expectedBytes) bytes")
        }
        if image.isEmpty { image.reserveCapacity(min(expectedBytes, Self.reserveBytesMax)) }
        chunk.bytes.withUnsafeReadableBytes { image.append(contentsOf: $0) }
        return image.count == expectedBytes ? finish() : nil
    }

    /// The most capacity reserved up front: beyond it the image grows as chunks really arrive.
    private static let reserveBytesMax = 64 << 20

    private mutating func finish() -> Message {
        var message = header!
        message.snapshot!.data = image
        header = nil
        image = []
        expectedBytes = 0
        return message
    }
}
