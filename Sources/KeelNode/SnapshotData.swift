import KeelStorage
import Raft

/// The bytes of a Raft snapshot (`Snapshot.data`) as this node makes them: the checksummed chunks of
/// a ``KeelStorage/SnapshotWriter`` stream, each prefixed with its length (`count u32 | (length u32 |
/// chunk)*`). Empty data is the bootstrap snapshot: an empty state machine with the membership of
/// the snapshot's metadata (``Raft/RestoredState/bootstrap(voters:)``).
enum SnapshotData {
    /// A chunk larger than this is refused as corrupt (the writer cuts chunks at 256 KiB).
    static let chunkBytesMax = 64 << 20
    /// More chunks than this are refused as corrupt.
    static let chunksMax = 1 << 20

    static func encode(_ chunks: [[UInt8]]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(4 + chunks.reduce(0) { $0 + 4 + $1.count })
        appendBigEndian(UInt32(chunks.count), to: &bytes)
        for chunk in chunks {
            appendBigEndian(UInt32(chunk.count), to: &bytes)
            bytes += chunk
        }
        return bytes
    }

    /// A receiver fed with `data`, checked to hold the state applied through exactly `index`: what
    /// the storage accepts as the image of a snapshot at `index`.
    static func receiver(for data: [UInt8], index: LogIndex) throws -> SnapshotReceiver {
        let receiver = try receiver(for: data)
        guard let header = receiver.header, header.appliedIndex == index else {
            throw StorageError(
                .snapshotInvalid, "snapshot for index \(index) carries state applied through \(receiver.header?.appliedIndex.description ?? "nothing")")
        }
        return receiver
    }

    /// Feeds every chunk to a new receiver, which checks them; throws on a torn frame.
    static func receiver(for data: [UInt8]) throws -> SnapshotReceiver {
        let receiver = SnapshotReceiver()
        var offset = 0
        func u32() throws -> Int {
            guard offset + 4 <= data.count else { throw StorageError(.snapshotInvalid, "snapshot data: frame truncated at byte \(offset)") }
            defer { offset += 4 }
            return data[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
        }
        let count = try u32()
        guard count <= chunksMax else { throw StorageError(.snapshotInvalid, "snapshot data: \(count) chunks exceed \(chunksMax)") }
        for index in 0..<count {
            let length = try u32()
            guard length <= chunkBytesMax, offset + length <= data.count else {
                throw StorageError(.snapshotInvalid, "snapshot data: chunk \(index) of \(length) bytes overruns the data")
            }
            try receiver.receive(Array(data[offset..<offset + length]))
            offset += length
        }
        guard offset == data.count else { throw StorageError(.snapshotInvalid, "snapshot data: \(data.count - offset) trailing bytes") }
        return receiver
    }
}
