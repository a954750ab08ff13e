import Raft
import KeelChecksum

/// Streams a consistent point-in-time image of a state machine as checksummed chunks.
///
/// The image is read through a RocksDB snapshot taken at creation, so writes applied while the
/// stream is being sent do not leak into it. Pull chunks with ``nextChunk()`` until it returns nil.
public final class SnapshotWriter {
    /// What the image describes.
    public let header: SnapshotHeader
    private let database: RocksDatabase
    private let view: RocksSnapshot
    private var familyIDs: [UInt8]
    private var iterator: RocksIterator?
    private var sequence: UInt32 = 0
    private var streamChecksum: UInt32 = 0
    private var recordCount: UInt64 = 0
    private var finished = false

    init(machine: KVStateMachine) {
        database = machine.database
        view = database.snapshot()
        // The state machine's in-memory fields match the RocksDB view: both change only in apply,
        // which does not run concurrently with this initializer.
        header = SnapshotHeader(appliedIndex: machine.appliedIndex, appliedTerm: machine.appliedTerm, membership: machine.membership)
        familyIDs = SnapshotFormat.families.keys.sorted()
    }

    /// The next chunk, or nil after the trailer has been returned.
    public func nextChunk() throws -> [UInt8]? {
        if finished { return nil }
        if sequence == 0 { return emit(.header, header.encoded()) }
        var writer = ByteWriter(capacity: SnapshotFormat.chunkPayloadBytesTarget + 4096)
        while writer.bytes.count < SnapshotFormat.chunkPayloadBytesTarget {
            if iterator == nil {
                guard let family = familyIDs.first else { break }
                let next = database.iterator(SnapshotFormat.families[family]!, snapshot: view)
                next.seekToFirst()
                iterator = next
            }
            let current = iterator!
            if !current.isValid {
                try current.check()
                iterator = nil
                familyIDs.removeFirst()
                continue
            }
            writer.u8(familyIDs[0])
            writer.blob(current.key)
            writer.blob(current.value)
            recordCount += 1
            current.next()
        }
        if !writer.bytes.isEmpty { return emit(.data, writer.bytes) }
        finished = true
        var trailer = ByteWriter()
        trailer.u64(recordCount)
        trailer.u32(streamChecksum)
        return emit(.trailer, trailer.bytes)
    }

    private func emit(_ kind: SnapshotFormat.Kind, _ payload: [UInt8]) -> [UInt8] {
        defer { sequence += 1 }
        streamChecksum = CRC32C.update(streamChecksum, payload)
        return SnapshotFormat.chunk(sequence: sequence, kind: kind, payload: payload)
    }

    /// Every remaining chunk; convenient for tests and for a Raft `Snapshot.data`.
    public func allChunks() throws -> [[UInt8]] {
        var chunks: [[UInt8]] = []
        while let chunk = try nextChunk() { chunks.append(chunk) }
        return chunks
    }
}
