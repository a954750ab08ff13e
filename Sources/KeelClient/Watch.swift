public import Foundation
public import KeelProto

/// etcd's `WatchResponse`: a batch of events of one watch, or a progress notification (no events).
public typealias WatchResponse = Etcdserverpb_WatchResponse
/// etcd's `mvccpb.Event`: one put or delete, with the key-value after it (and before it, with prevKV).
public typealias WatchEvent = Mvccpb_Event

/// What a ``KeelClient/watch(_:options:)`` watches and how.
public struct WatchOptions: Sendable {
    /// The end of the range [key, rangeEnd); empty: the key alone. ``KeyRange/prefixEnd(_:)``
    /// makes a prefix watch, ``KeyRange/fromKeyEnd`` watches every key from the key on.
    public var rangeEnd: Data = Data()
    /// The first revision to send events of; 0: only changes after the watch is created.
    public var startRevision: Int64 = 0
    /// Each event carries the key-value as it was before (`prev_kv`).
    public var prevKV = false
    /// Leave out puts (etcd's `NOPUT` filter).
    public var noPut = false
    /// Leave out deletes (etcd's `NODELETE` filter).
    public var noDelete = false
    /// Ask the server for periodic progress notifications (responses without events whose header
    /// revision says every event up to it was sent); they are delivered to the reader.
    public var progressNotify = false
    /// Let the server split large batches; the client joins the pieces back into one response.
    public var fragment = false
    /// How many times in a row a failed stream is re-created before the sequence throws. The
    /// count starts again once a stream is created.
    public var resumeAttemptsMax = 8
    /// The pause before the first re-creation; it doubles each time up to ``resumePauseMax``.
    public var resumePause: Duration = .milliseconds(100)
    /// The longest pause between two re-creations.
    public var resumePauseMax: Duration = .seconds(2)

    /// Watches one key from now on.
    public init() {}

    /// Watches every key that starts with the watched key.
    public static func prefix(of key: Data) -> WatchOptions {
        var options = WatchOptions()
        options.rangeEnd = KeyRange.prefixEnd(key)
        return options
    }
}

/// The responses of one watch, from ``KeelClient/watch(_:options:)``, in revision order, each
/// event once.
///
/// Only responses that carry events are delivered, progress notifications when
/// ``WatchOptions/progressNotify`` is set, and the answers to ``requestProgress()``; the server's
/// "created" answer is not. Fragments are
/// joined. The sequence does not end while the watch lives: it throws ``KeelClientError`` with
/// ``KeelClientError/Kind/compacted`` (and ``KeelClientError/compactRevision``) when the start
/// revision (or the one it resumes at) was compacted, the server's error when it refuses or cancels
/// the watch, or the last stream failure when ``WatchOptions/resumeAttemptsMax`` re-creations in a
/// row failed.
///
/// Cancelling the reading task, or dropping the sequence and its iterators, closes the stream.
/// At most ``KeelClient/watchResponsesBufferedMax`` responses wait for a slow reader; beyond that
/// the stream stops reading and the server's flow control holds the rest. Iterate from one task at a time.
public struct WatchStream: AsyncSequence, Sendable {
    /// One response.
    public typealias Element = WatchResponse

    let handle: WatchHandle

    /// Asks the server where this watch is (etcd's `RequestProgress`). The answer comes in the
    /// sequence: a response without events (watch id -1) whose header revision says every change
    /// up to that revision was delivered, so a reader can tell it has seen everything up to a
    /// revision it learned elsewhere (a put's, a read's). kvd answers once the watch has caught
    /// up; etcd before 3.4.24 may answer ahead of events still on their way (etcd-io/etcd#15220),
    /// so the answer does not move where the watch resumes after a failure. Requests made while
    /// the watch resumes are sent on the next stream; at most a few are outstanding, more are
    /// merged into them.
    public func requestProgress() {
        handle.progress.askProgress()
    }

    /// Makes the iterator; there is one stream per sequence, so every iterator reads the same one.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(handle: handle)
    }

    /// Reads the responses in order.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let handle: WatchHandle

        /// The next response; nil once the reading task was cancelled; throws as ``WatchStream`` says.
        public mutating func next() async throws -> WatchResponse? {
            let handle = self.handle
            return try await withTaskCancellationHandler {
                try await handle.channel.next()
            } onCancel: {
                handle.cancel()
            }
        }
    }
}

/// The watch's producing task and its channel; the task is cancelled when the last reference goes.
final class WatchHandle: Sendable {
    let channel: BoundedChannel<WatchResponse>
    let task: Task<Void, Never>
    let progress: WatchProgress

    init(channel: BoundedChannel<WatchResponse>, task: Task<Void, Never>, progress: WatchProgress) {
        self.channel = channel
        self.task = task
        self.progress = progress
    }

    func cancel() {
        channel.cancel()
        task.cancel()
    }

    deinit { cancel() }
}

extension KeelClient {
    /// Responses a watch holds for a reader that is behind before it stops reading its stream.
    public static let watchResponsesBufferedMax = 16

    /// Watches a key or range over etcd's bidirectional `Watch.Watch` stream; see ``WatchStream``.
    ///
    /// When the stream fails (the endpoint goes down, `Unavailable`, the server ends it or cancels
    /// it for want of a leader) the watch is re-created on the next endpoint at the revision after
    /// the last one delivered (or after the last progress notification), so no event is lost or
    /// repeated, with a growing pause and at most ``WatchOptions/resumeAttemptsMax`` times in a row.
    ///
    /// The watch needs the client running (``run()``).
    public func watch(_ key: Data, options: WatchOptions = WatchOptions()) -> WatchStream {
        let channel = BoundedChannel<WatchResponse>(capacity: Self.watchResponsesBufferedMax)
        let progress = WatchProgress(nextRevision: options.startRevision)
        let watcher = Watcher(client: self, key: key, options: options, channel: channel, progress: progress)
        // Unstructured, so that the sequence can be handed out; its life is bound to the sequence's:
        // the handle cancels it when the reader is cancelled or the sequence is dropped.
        let task = Task {
            do {
                try await watcher.run()
                channel.finish()
            } catch {
                channel.finish(throwing: error)
            }
        }
        return WatchStream(handle: WatchHandle(channel: channel, task: task, progress: progress))
    }

    /// Watches a key given as UTF-8 text, or every key with it as prefix.
    public func watch(_ key: String, prefix: Bool = false, startRevision: Int64 = 0, prevKV: Bool = false) -> WatchStream {
        var options = prefix ? WatchOptions.prefix(of: Data(key.utf8)) : WatchOptions()
        options.startRevision = startRevision
        options.prevKV = prevKV
        return watch(Data(key.utf8), options: options)
    }
}
