import Dispatch
import KeelStorage
import Raft

/// Reads and encodes a state-machine image off the storage thread and off the actor (reviewer N4):
/// the Ready pipeline (appends, heartbeats, the followers' answers) keeps running while a large
/// state machine is read, so taking a snapshot costs no leadership.
enum ImageBuilder {
    static func build(_ source: ImageSource, beforeRead: (@Sendable () -> Void)?) async -> Result<SnapshotImage, any Error> {
        await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .utility).async {
                beforeRead?()
                continuation.resume(returning: Result { SnapshotImage(metadata: source.metadata, data: try source.reader.read()) })
            }
        }
    }
}
