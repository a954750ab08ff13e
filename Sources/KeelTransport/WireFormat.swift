import NIOCore

/// The constants of the peer wire format.
///
/// A frame is `length: UInt32` (bytes after this field), then `version: UInt8`, `kind: UInt8`,
/// `crc32c: UInt32` (over the kind byte and the payload), then the payload. All integers are
/// big-endian. The payload layout of each kind is in ``PeerMessageCodec`` and ``FramePayload``.
public enum WireFormat {
    /// The format version this build writes and accepts. Bumped on any incompatible change,
    /// including one of what replicas compute from the log: version 2 is the first whose key-value
    /// revisions start at 1 (etcd's numbering); a version 1 peer numbers from 0, and the two would
    /// answer the same transaction differently.
    public static let version: UInt8 = 2

    /// The largest frame (after the length prefix) a receiver accepts. Raft bounds one append at
    /// 1 MiB (`RaftConfig.messageSizeMaxBytes`) but lets a single larger entry through, so this
    /// leaves room for an oversized entry plus headers; larger snapshot images travel in chunks.
    public static let frameBytesMax = 16 << 20

    /// Bytes of the length prefix.
    static let lengthPrefixBytes = 4
    /// Bytes after the length prefix and before the payload: version, kind, checksum.
    static let headerBytes = 1 + 1 + 4

    /// What a frame carries.
    enum Kind: UInt8, Sendable {
        /// First frame of every connection: who is calling, for which cluster.
        case handshake = 1
        /// One or more ``PeerMessage``s.
        case messages = 2
        /// A Raft snapshot message without its image, and the image's total size.
        case snapshotBegin = 3
        /// A piece of the image of the snapshot begun last on this connection.
        case snapshotChunk = 4
        /// Round-trip probe; the receiver echoes the payload in a ``pong``.
        case ping = 5
        /// Echo of a ``ping``.
        case pong = 6
        /// The receiver refused the handshake; the payload is the reason (UTF-8).
        case refusal = 7
        /// Sent instead of a handshake by a member about to join: who are the members? Answered
        /// with one ``membershipAnswer`` and the connection is closed.
        case membershipQuery = 8
        /// The host's description of the cluster and its members (opaque to the transport).
        case membershipAnswer = 9
    }
}

/// One decoded frame: its kind and its payload (checksum and version already verified).
struct Frame {
    var kind: WireFormat.Kind
    var payload: ByteBuffer
}
