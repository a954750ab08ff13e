import Dispatch
import KeelStorage
import Raft

/// The one thread that touches the node's storage: it persists, applies and serves reads, in
/// submission order, OFF the node's actor. While it fsyncs one Ready the actor keeps stepping
/// messages and accepting proposals into the Raft core, so the next Ready carries all of them in
/// one append and one fsync (group commit; thesis §10.2.1 "batching and pipelining").
///
/// `@unchecked Sendable`: `storage` is read and written only by blocks running on `queue`, a
/// serial queue, so no two threads ever touch it at once.
final class StorageWorker: @unchecked Sendable {
    private let queue = DispatchQueue(label: "keel.node.storage")
    private var storage: NodeStorage?

    init(storage: NodeStorage) { self.storage = storage }

    /// Runs `body` on the storage thread and returns its result.
    func perform<T: Sendable>(_ body: @escaping @Sendable (NodeStorage) throws -> T) async -> Result<T, any Error> {
        await withCheckedContinuation { continuation in
            queue.async {
                guard let storage = self.storage else {
                    continuation.resume(returning: .failure(KeelError.stopped))
                    return
                }
                continuation.resume(returning: Result { try body(storage) })
            }
        }
    }

    /// Closes the database once every queued block has run.
    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.storage = nil
                continuation.resume()
            }
        }
    }
}
