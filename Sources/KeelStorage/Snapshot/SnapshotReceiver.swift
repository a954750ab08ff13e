import KeelChecksum

/// Collects and checks the chunks of a snapshot stream. Nothing touches the store until the whole
/// stream has arrived and passed every check; then ``KVStateMachine/restore(from:)`` replaces the
/// state in one atomic write.
public final class SnapshotReceiver {
    /// The header, once the first chunk has arrived.
    public private(set) var header: SnapshotHeader?
    private var nextSequence: UInt32 = 0
    private var streamChecksum: UInt32 = 0
    private(set) var records: [(family: UInt8, key: [UInt8], value: [UInt8])] = []
    /// Whether the trailer arrived and the stream checked out.
    public private(set) var isComplete = false

    /// Creates an empty receiver.
    public init() {}

    /// Checks and keeps one chunk; chunks must arrive in order.
    public func receive(_ chunk: [UInt8]) throws {
        guard !isComplete else { throw StorageError(.snapshotInvalid, "snapshot: chunk after the trailer") }
        let (sequence, kind, payload) = try SnapshotFormat.openChunk(chunk)
        guard sequence == nextSequence else {
            throw StorageError(.snapshotInvalid, "snapshot: expected chunk \(nextSequence), got \(sequence)")
        }
        switch kind {
        case .header:
            guard sequence == 0 else { throw StorageError(.snapshotInvalid, "snapshot: header in chunk \(sequence)") }
            header = try SnapshotHeader(decoding: payload)
        case .data:
            guard sequence > 0 else { throw StorageError(.snapshotInvalid, "snapshot: stream does not start with a header") }
            var reader = ByteReader(payload, what: "snapshot chunk \(sequence)")
            while !reader.isAtEnd {
                let family = try reader.u8()
                guard SnapshotFormat.families[family] != nil else {
                    throw StorageError(.snapshotInvalid, "snapshot chunk \(sequence): unknown column family \(family)")
                }
                records.append((family, try reader.blob(), try reader.blob()))
            }
        case .trailer:
            guard sequence > 0 else { throw StorageError(.snapshotInvalid, "snapshot: stream does not start with a header") }
            var reader = ByteReader(payload, what: "snapshot trailer")
            let count = try reader.u64()
            let checksum = try reader.u32()
            try reader.finish()
            guard count == UInt64(records.count) else {
                throw StorageError(.snapshotInvalid, "snapshot: trailer counts \(count) records, received \(records.count)")
            }
            guard checksum == streamChecksum else {
                throw StorageError(.snapshotInvalid, "snapshot: whole-stream checksum mismatch")
            }
            isComplete = true
        }
        streamChecksum = CRC32C.update(streamChecksum, payload)
        nextSequence += 1
    }
}
