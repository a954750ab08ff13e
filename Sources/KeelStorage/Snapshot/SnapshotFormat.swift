import Raft
import KeelChecksum

/// The stream format of a state-machine snapshot.
///
/// A stream is a sequence of chunks. Each chunk is
/// `magic u32 | sequence u32 | kind u8 | payload (length-prefixed) | crc32c u32` with the checksum
/// over everything before it. The first chunk's payload is the header (format version, applied
/// index and term, membership); data chunks carry `family u8 | key blob | value blob` records; the
/// last chunk (kind `trailer`) carries the record count and a CRC-32C over every earlier payload, so
/// a stream missing its tail, a reordered chunk or a flipped bit is rejected before anything is
/// written.
enum SnapshotFormat {
    static let chunkMagic: UInt32 = 0x4B53_4E50  // "KSNP"
    /// 2: the state's revisions start at 1 (etcd's numbering) and its meta records that base; a
    /// version 1 image numbered from 0 and would put this replica one revision behind its peers.
    static let formatVersion: UInt8 = 2
    /// Data chunks are cut once their payload passes this size.
    static let chunkPayloadBytesTarget = 256 << 10
    /// A chunk larger than this is rejected as corrupt before its payload is parsed.
    static let chunkBytesMax = 64 << 20

    enum Kind: UInt8 {
        case header = 1, data = 2, trailer = 3
    }

    /// The column families a snapshot carries, by their one-byte id in the stream.
    static let families: [UInt8: String] = [
        1: KVStateMachine.keyFamily, 2: KVStateMachine.revisionFamily,
        3: KVStateMachine.metaFamily, 4: KVStateMachine.leaseFamily,
    ]

    static func chunk(sequence: UInt32, kind: Kind, payload: [UInt8]) -> [UInt8] {
        var writer = ByteWriter(capacity: payload.count + 20)
        writer.u32(chunkMagic)
        writer.u32(sequence)
        writer.u8(kind.rawValue)
        writer.blob(payload)
        writer.u32(CRC32C.checksum(writer.bytes))
        return writer.bytes
    }

    /// Checks a chunk's frame and checksum; returns its sequence, kind and payload.
    static func openChunk(_ bytes: [UInt8]) throws -> (sequence: UInt32, kind: Kind, payload: [UInt8]) {
        guard bytes.count >= 17, bytes.count <= chunkBytesMax else {
            throw StorageError(.snapshotInvalid, "snapshot chunk of \(bytes.count) bytes has an impossible size")
        }
        var trailer = ByteReader(bytes, what: "snapshot chunk", from: bytes.count - 4)
        let stored = try trailer.u32()
        let computed = CRC32C.checksum(bytes[0..<(bytes.count - 4)])
        var reader = ByteReader(bytes, what: "snapshot chunk", to: bytes.count - 4)
        guard try reader.u32() == chunkMagic else { throw StorageError(.snapshotInvalid, "snapshot chunk: bad magic") }
        let sequence = try reader.u32()
        guard stored == computed else {
            throw StorageError(.snapshotInvalid, "snapshot chunk \(sequence): checksum mismatch")
        }
        let kindRaw = try reader.u8()
        guard let kind = Kind(rawValue: kindRaw) else {
            throw StorageError(.snapshotInvalid, "snapshot chunk \(sequence): unknown kind \(kindRaw)")
        }
        let payload = try reader.blob()
        try reader.finish()
        return (sequence, kind, payload)
    }
}

/// What a snapshot describes, readable before it is restored.
public struct SnapshotHeader: Hashable, Sendable {
    /// The last entry applied to the state the snapshot captures.
    public var appliedIndex: LogIndex
    /// That entry's term (zero when the host never said).
    public var appliedTerm: Term
    /// The membership as of that entry.
    public var membership: ConfState

    func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.u8(SnapshotFormat.formatVersion)
        writer.u64(appliedIndex.rawValue)
        writer.u64(appliedTerm.rawValue)
        RaftCoding.write(membership, into: &writer)
        return writer.bytes
    }

    init(appliedIndex: LogIndex, appliedTerm: Term, membership: ConfState) {
        self.appliedIndex = appliedIndex
        self.appliedTerm = appliedTerm
        self.membership = membership
    }

    init(decoding bytes: [UInt8]) throws {
        var reader = ByteReader(bytes, what: "snapshot header")
        let version = try reader.u8()
        guard version == SnapshotFormat.formatVersion else {
            throw StorageError(.unsupportedVersion, "snapshot format version \(version), expected \(SnapshotFormat.formatVersion)")
        }
        appliedIndex = LogIndex(try reader.u64())
        appliedTerm = Term(try reader.u64())
        membership = try RaftCoding.readConfState(from: &reader)
        try reader.finish()
    }
}
