import Foundation
import GRPCCore
import KeelProto
import Synchronization

/// The loop behind ``KeelClient/watch(_:options:)``: one `Watch.Watch` stream at a time, re-created
/// on the next endpoint at the revision after the last delivered one when a stream fails.
struct Watcher: Sendable {
    let client: KeelClient
    let key: Data
    let options: WatchOptions
    let channel: BoundedChannel<WatchResponse>
    let progress: WatchProgress

    /// etcd's `RequestProgress`: the server answers, once every watcher of the stream has caught
    /// up, with a response without events whose header revision every change up to was sent.
    static let progressRequest: Etcdserverpb_WatchRequest = {
        var request = Etcdserverpb_WatchRequest()
        request.progressRequest = Etcdserverpb_WatchProgressRequest()
        return request
    }()

    /// The watch id of the answer to a progress request: it is for every watch of the stream.
    static let requestedProgressWatchID: Int64 = -1

    /// etcd's cancel reason when a member loses its leader: the watch can go on elsewhere.
    static let noLeaderReason = "etcdserver: no leader"

    /// Runs until the reader goes away (returns), or the watch ends for good (throws).
    func run() async throws {
        var index = client.preferred.index
        var failuresInARow = 0
        while true {
            let endpointIndex = index % client.connections.count
            let connection = client.connections[endpointIndex]
            let failure: KeelClientError
            do {
                try await stream(on: connection, endpointIndex: endpointIndex, progress: progress)
                return
            } catch is ReaderGone {
                return
            } catch _ where Task.isCancelled {
                return
            } catch let error as StreamFailure {
                failure = KeelClientError(code: error.code, message: error.message, endpoint: connection.endpoint)
            } catch let error as RPCError where LeaseRenewer.isTransient(error.code) {
                failure = KeelClientError(code: error.code, message: error.message, endpoint: connection.endpoint)
            } catch let error as RPCError {
                throw KeelClientError(code: error.code, message: error.message, endpoint: connection.endpoint)
            } catch let error as KeelClientError {
                throw error
            } catch {
                throw KeelClientError(code: .unknown, message: "\(error)", endpoint: connection.endpoint)
            }
            // A stream that got as far as being created used no attempt of the budget before it.
            failuresInARow = progress.takeCreated() ? 1 : failuresInARow + 1
            // A progress request the failed stream did not answer is asked again on the next one.
            progress.resendUnanswered()
            guard failuresInARow <= options.resumeAttemptsMax else {
                var error = failure
                error.message = "watch not resumed after \(options.resumeAttemptsMax) attempts: \(failure.message)"
                throw error
            }
            index += 1
            let pause = min(options.resumePause * (1 << min(failuresInARow - 1, 16)), options.resumePauseMax)
            do {
                try await Task.sleep(for: pause)
            } catch {
                return
            }
        }
    }

    /// One stream: creates the watch at the next revision and hands its responses over. Ends only
    /// by throwing (or by returning when the reader goes away during the call's teardown).
    private func stream(on connection: EndpointConnection, endpointIndex: Int, progress: WatchProgress) async throws {
        var create = Etcdserverpb_WatchCreateRequest()
        create.key = key
        create.rangeEnd = options.rangeEnd
        create.startRevision = progress.nextRevision
        create.prevKv = options.prevKV
        create.progressNotify = options.progressNotify
        create.fragment = options.fragment
        if options.noPut { create.filters.append(.noput) }
        if options.noDelete { create.filters.append(.nodelete) }
        var request = Etcdserverpb_WatchRequest()
        request.createRequest = create
        let createRequest = request
        let options = client.callOptions()
        let createWait = client.configuration.dialTimeout
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // A hung endpoint accepts the connection and never answers: give it the dial timeout.
                try await Task.sleep(for: createWait)
                if !progress.createdOnThisStream {
                    throw StreamFailure(code: .unavailable, message: "the watch was not created within the dial timeout")
                }
            }
            group.addTask {
                try await Etcdserverpb_Watch.Client(wrapping: connection.grpc).watch(
                    request: StreamingClientRequest { writer in
                        try await writer.write(createRequest)
                        // Closing the request side could end the stream on the server: keep it open,
                        // writing the reader's progress requests, until the stream is torn down.
                        while await progress.nextProgressRequest() {
                            try await writer.write(Self.progressRequest)
                        }
                    },
                    options: options
                ) { response in
                    var pending: WatchResponse?
                    for try await message in response.messages {
                        guard let whole = try handle(message, pending: &pending, progress: progress) else { continue }
                        client.preferred.index = endpointIndex
                        guard await channel.send(whole) else { throw ReaderGone() }
                    }
                    throw StreamFailure(code: .unavailable, message: "the server ended the watch stream")
                }
            }
            // The timer child may end quietly; the call ends only by throwing.
            while try await group.next() != nil {}
        }
    }

    /// What to deliver for one message: nil for the created answer, a fragment that is not the last,
    /// or a progress notification nobody asked for. Throws when the watch is over.
    private func handle(_ message: WatchResponse, pending: inout WatchResponse?, progress: WatchProgress) throws
        -> WatchResponse?
    {
        if message.compactRevision != 0 {
            var error = KeelClientError(
                code: .outOfRange, message: KeelClientError.compactedMessage, compactRevision: message.compactRevision)
            error.watchCancellation = message
            throw error
        }
        if message.canceled {
            if message.cancelReason == Self.noLeaderReason {
                throw StreamFailure(code: .unavailable, message: message.cancelReason)
            }
            let reason = message.cancelReason.isEmpty ? "watch is canceled by the server" : message.cancelReason
            var error = KeelClientError(code: message.created ? .invalidArgument : .cancelled, message: reason)
            error.watchCancellation = message
            throw error
        }
        if message.created {
            progress.created(headerRevision: message.header.revision)
            return nil
        }
        var whole = message
        if var earlier = pending {
            earlier.events += message.events
            earlier.header = message.header
            earlier.fragment = message.fragment
            whole = earlier
        }
        if whole.fragment {
            pending = whole
            return nil
        }
        pending = nil
        if let last = whole.events.last {
            progress.delivered(through: last.kv.modRevision)
            return whole
        }
        if whole.watchID == Self.requestedProgressWatchID {
            // The answer to a progress request. It does not move where the watch resumes: etcd
            // before 3.4.24 could send it ahead of events still on their way (etcd-io/etcd#15220).
            return progress.takeAnswer() ? whole : nil
        }
        progress.delivered(through: whole.header.revision)
        return options.progressNotify ? whole : nil
    }
}

/// The reader dropped the watch: stop without an error.
struct ReaderGone: Error {}

/// Where a watch resumes, shared by its streams' response handlers and its loop.
final class WatchProgress: Sendable {
    private struct State {
        /// The revision the next stream starts at; 0 until a stream was created (then: now).
        var nextRevision: Int64
        var createdOnThisStream = false
        /// Progress requests the reader made that no stream has written yet.
        var progressUnsent = 0
        /// Progress requests written and not answered yet.
        var progressOwed = 0
        /// The stream's writer, waiting for a progress request.
        var writerWaiting: CheckedContinuation<Bool, Never>?
    }

    /// Requests beyond this many outstanding are merged: one answer serves them all, since a
    /// progress answer says where the watch is when the server sends it.
    static let progressRequestsMax = 4

    private let state: Mutex<State>

    init(nextRevision: Int64) {
        state = Mutex(State(nextRevision: nextRevision))
    }

    /// The revision the next stream starts at.
    var nextRevision: Int64 { state.withLock { $0.nextRevision } }
    /// Whether the current stream's watch was created.
    var createdOnThisStream: Bool { state.withLock { $0.createdOnThisStream } }

    /// The server created the watch; a watch "from now" resumes after the revision it was created at.
    func created(headerRevision: Int64) {
        state.withLock { state in
            state.createdOnThisStream = true
            if state.nextRevision == 0 { state.nextRevision = headerRevision + 1 }
        }
    }

    /// Every event up to `revision` was delivered (or, for a progress notification, exists no more).
    func delivered(through revision: Int64) {
        state.withLock { state in state.nextRevision = max(state.nextRevision, revision + 1) }
    }

    /// The reader asks where the watch is (``WatchStream/requestProgress()``).
    func askProgress() {
        let writer = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            if state.progressUnsent + state.progressOwed < Self.progressRequestsMax { state.progressUnsent += 1 }
            defer { state.writerWaiting = nil }
            return state.writerWaiting
        }
        writer?.resume(returning: true)
    }

    /// Waits for a progress request for the current stream to write: true once there is one (it
    /// counts as written), false when the writing task is cancelled (the stream is torn down).
    func nextProgressRequest() async -> Bool {
        while true {
            let claimed = state.withLock { state -> Bool in
                guard state.progressUnsent > 0 else { return false }
                state.progressUnsent -= 1
                state.progressOwed += 1
                return true
            }
            if claimed { return true }
            let woken = await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                    let now = state.withLock { state -> Bool? in
                        if Task.isCancelled { return false }
                        if state.progressUnsent > 0 { return true }
                        state.writerWaiting = continuation
                        return nil
                    }
                    if let now { continuation.resume(returning: now) }
                }
            } onCancel: {
                let writer = state.withLock { state in
                    defer { state.writerWaiting = nil }
                    return state.writerWaiting
                }
                writer?.resume(returning: false)
            }
            guard woken else { return false }
        }
    }

    /// An answer without events arrived: whether it answers a progress request.
    func takeAnswer() -> Bool {
        state.withLock { state in
            guard state.progressOwed > 0 else { return false }
            state.progressOwed -= 1
            return true
        }
    }

    /// The stream failed: requests it wrote and did not answer go out again on the next one.
    func resendUnanswered() {
        state.withLock { state in
            state.progressUnsent += state.progressOwed
            state.progressOwed = 0
        }
    }

    /// Whether the stream that just failed had been created; resets for the next stream.
    func takeCreated() -> Bool {
        state.withLock { state in
            defer { state.createdOnThisStream = false }
            return state.createdOnThisStream
        }
    }
}
