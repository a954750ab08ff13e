import NIOCore
import Raft

/// The first frame a dialer sends: who it is, which cluster it belongs to, whom it means to reach.
struct Handshake: Sendable, Hashable {
    var clusterID: UInt64
    var sender: NodeID
    /// The node the dialer believes it is calling; a receiver with another id refuses (a peer
    /// address that points at the wrong member).
    var receiver: NodeID
    var attributes: MemberAttributes

    /// Client URLs a handshake may list: a bound on what a peer can make us store.
    static let clientURLsMax = 64

    func encoded() -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        buffer.writeInteger(clusterID)
        buffer.writeInteger(sender.rawValue)
        buffer.writeInteger(receiver.rawValue)
        buffer.writeLengthPrefixed(attributes.name)
        buffer.writeInteger(UInt32(attributes.clientURLs.count))
        for url in attributes.clientURLs { buffer.writeLengthPrefixed(url) }
        return buffer
    }

    static func decode(_ payload: ByteBuffer) throws(TransportError) -> Handshake {
        var reader = ByteReader(payload, context: "handshake")
        let clusterID = try reader.u64("clusterID")
        let sender = NodeID(try reader.u64("sender"))
        let receiver = NodeID(try reader.u64("receiver"))
        let name = try reader.string("name")
        let count = try reader.count("clientURLs count", itemBytesMin: 4)
        guard count <= clientURLsMax else { throw reader.malformed("\(count) client URLs, more than \(clientURLsMax)") }
        var urls: [String] = []
        for _ in 0..<count { urls.append(try reader.string("clientURL")) }
        try reader.expectEnd()
        return Handshake(clusterID: clusterID, sender: sender, receiver: receiver,
                         attributes: MemberAttributes(name: name, clientURLs: urls))
    }
}

/// Payload of a ``WireFormat/Kind/messages`` frame: `UInt32` count, then the messages.
enum MessageBatch {
    static func encode(_ messages: some Collection<PeerMessage>) -> ByteBuffer {
        let bytes = messages.reduce(4) { $0 + PeerMessageCodec.encodedByteCount($1) }
        var buffer = ByteBufferAllocator().buffer(capacity: bytes)
        buffer.writeInteger(UInt32(messages.count))
        for message in messages { PeerMessageCodec.encode(message, into: &buffer) }
        return buffer
    }

    static func decode(_ payload: ByteBuffer) throws(TransportError) -> [PeerMessage] {
        var reader = ByteReader(payload, context: "message batch")
        let count = try reader.count("message count", itemBytesMin: 1)
        guard count > 0 else { throw reader.malformed("empty batch") }
        var messages: [PeerMessage] = []
        messages.reserveCapacity(count)
        for _ in 0..<count { messages.append(try PeerMessageCodec.decode(from: &reader)) }
        try reader.expectEnd()
        return messages
    }
}

/// Payload of a ``WireFormat/Kind/snapshotBegin`` frame: the stream id, the image's total size,
/// then the Raft message with an empty image.
struct SnapshotBegin: Sendable, Hashable {
    var streamID: UInt64
    var totalBytes: UInt64
    var header: Message

    func encoded() -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 128)
        buffer.writeInteger(streamID)
        buffer.writeInteger(totalBytes)
        PeerMessageCodec.encode(.raft(header), into: &buffer)
        return buffer
    }

    static func decode(_ payload: ByteBuffer) throws(TransportError) -> SnapshotBegin {
        var reader = ByteReader(payload, context: "snapshot begin")
        let streamID = try reader.u64("streamID")
        let totalBytes = try reader.u64("totalBytes")
        guard case .raft(let header) = try PeerMessageCodec.decode(from: &reader), let snapshot = header.snapshot else {
            throw reader.malformed("not a raft message with a snapshot")
        }
        guard snapshot.data.isEmpty else { throw reader.malformed("the header carries image bytes") }
        try reader.expectEnd()
        return SnapshotBegin(streamID: streamID, totalBytes: totalBytes, header: header)
    }
}

/// Payload of a ``WireFormat/Kind/snapshotChunk`` frame: stream id, offset, then the bytes.
struct SnapshotChunk {
    var streamID: UInt64
    var offset: UInt64
    var bytes: ByteBuffer

    func encoded() -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 16 + bytes.readableBytes)
        buffer.writeInteger(streamID)
        buffer.writeInteger(offset)
        var bytes = bytes
        buffer.writeBuffer(&bytes)
        return buffer
    }

    static func decode(_ payload: ByteBuffer) throws(TransportError) -> SnapshotChunk {
        var reader = ByteReader(payload, context: "snapshot chunk")
        let streamID = try reader.u64("streamID")
        let offset = try reader.u64("offset")
        return SnapshotChunk(streamID: streamID, offset: offset, bytes: reader.buffer)
    }
}

/// Payload of ``WireFormat/Kind/ping`` and ``WireFormat/Kind/pong``: the sender's monotonic
/// clock in nanoseconds, echoed back so the dialer times the round trip without shared clocks.
enum PingPayload {
    static func encode(_ nanoseconds: UInt64) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 8)
        buffer.writeInteger(nanoseconds)
        return buffer
    }

    static func decode(_ payload: ByteBuffer) throws(TransportError) -> UInt64 {
        var reader = ByteReader(payload, context: "ping")
        let value = try reader.u64("nanoseconds")
        try reader.expectEnd()
        return value
    }
}
