import Dispatch
import KeelStorage
import Raft

/// A point-in-time view of the state machine, opened on the storage thread (cheap: a RocksDB
/// snapshot), to be read and encoded into an image elsewhere.
///
/// `@unchecked Sendable`: the writer is used by one thread at a time. It is created on the storage
/// thread and handed whole to the image queue; the storage thread never touches it again. It reads
/// through its own RocksDB snapshot (which keeps the database open), so writes applied meanwhile
/// do not reach it.
struct ImageSource: @unchecked Sendable {
    let writer: SnapshotWriter
    let metadata: SnapshotMetadata
    /// Test hook: runs on the image queue before reading (a large state machine).
    var beforeRead: (@Sendable () -> Void)?
}

/// Reads and encodes a state-machine image off the storage thread and off the actor (reviewer N4):
/// the Ready pipeline (appends, heartbeats, the followers' answers) keeps running while a large
/// state machine is read, so taking a snapshot costs no leadership.
enum ImageBuilder {
    static func build(_ source: ImageSource) async -> Result<SnapshotImage, any Error> {
        await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .utility).async {
                source.beforeRead?()
                continuation.resume(
                    returning: Result {
                        SnapshotImage(metadata: source.metadata, data: SnapshotData.encode(try source.writer.allChunks()))
                    })
            }
        }
    }
}
