import GRPCCore
import KeelProto
import Synchronization

/// The loop behind ``KeelClient/keepAlive(id:)``: renews one lease over `Lease.LeaseKeepAlive`
/// streams, one stream at a time, moving to the next endpoint when a stream fails, until the lease
/// is gone or the task is cancelled.
struct LeaseRenewer: Sendable {
    let client: KeelClient
    let id: Int64
    let answers: AsyncThrowingStream<LeaseKeepAliveResponse, any Error>.Continuation

    /// The pause before another stream after one failed (etcd's client waits as long), so a dead
    /// cluster is not dialled in a tight loop.
    static let retryPause: Duration = .milliseconds(500)

    /// Renews until cancelled (returns) or until the lease is gone or the server refuses for good (throws).
    func run() async throws {
        let clock = ContinuousClock()
        // Until the first answer the TTL is unknown: the lease gets the command timeout to answer once.
        let deadlines = RenewalDeadlines(lease: clock.now.advanced(by: client.configuration.commandTimeout))
        var index = client.preferred.index
        var lastFailure: KeelClientError?
        while true {
            let connection = client.connections[index % client.connections.count]
            do {
                try await stream(on: connection, endpointIndex: index % client.connections.count, deadlines: deadlines)
            } catch is CancellationError where Task.isCancelled {
                return
            } catch let error as RPCError where error.code == .cancelled && Task.isCancelled {
                return
            } catch let retry as StreamFailure {
                lastFailure = KeelClientError(code: retry.code, message: retry.message, endpoint: connection.endpoint)
            } catch let error as RPCError where Self.isTransient(error.code) {
                lastFailure = KeelClientError(code: error.code, message: error.message, endpoint: connection.endpoint)
            } catch let error as RPCError where error.code == .notFound {
                throw KeelClientError.leaseNotFound(endpoint: connection.endpoint)
            } catch let error as RPCError {
                throw KeelClientError(code: error.code, message: error.message, endpoint: connection.endpoint)
            } catch is LeaseNotRenewed {
                throw notRenewed(lastFailure: lastFailure, answered: deadlines.answeredOnce)
            } catch let error as KeelClientError {
                throw error
            } catch {
                throw KeelClientError(code: .unknown, message: "\(error)", endpoint: connection.endpoint)
            }
            index += 1
            let pause = min(Self.retryPause, clock.now.duration(to: deadlines.lease))
            if pause > .zero {
                do {
                    try await Task.sleep(for: pause)
                } catch {
                    return
                }
            }
            guard clock.now < deadlines.lease else {
                throw notRenewed(lastFailure: lastFailure, answered: deadlines.answeredOnce)
            }
        }
    }

    /// Unavailable says the server will be back, Internal that it dropped the stream (a leader
    /// change, say): another stream may do better. etcd's client retries on the same two codes.
    static func isTransient(_ code: RPCError.Code) -> Bool {
        code == .unavailable || code == .internalError
    }

    private func notRenewed(lastFailure: KeelClientError?, answered: Bool) -> KeelClientError {
        let cause = lastFailure.map { " (last failure: \($0.endpoint.map { "\($0): " } ?? "")\($0.message))" } ?? ""
        let lease = "lease \(EtcdctlLeaseID.format(id))"
        let what =
            answered
            ? "\(lease) was not renewed before its TTL ran out, so it may have expired"
            : "\(lease): no answer to its first renewal within the command timeout of \(EtcdctlPrinter.goDuration(client.configuration.commandTimeout))"
        return KeelClientError(code: .deadlineExceeded, message: what + cause)
    }

    /// One stream on one endpoint. It ends only by throwing: ``StreamFailure`` when another
    /// stream may succeed, ``LeaseNotRenewed`` when the lease's time ran out, anything else as the
    /// server or transport said.
    private func stream(on connection: EndpointConnection, endpointIndex: Int, deadlines: RenewalDeadlines) async throws {
        let answerWait = client.configuration.dialTimeout
        // The sender waits for each answer's TTL before it sends the next renewal. One renewal is in
        // flight at a time, so one answer at most is ever waiting here.
        let (renewed, renewedContinuation) = AsyncStream.makeStream(of: Int64.self, bufferingPolicy: .bufferingNewest(1))
        var request = Etcdserverpb_LeaseKeepAliveRequest()
        request.id = id
        let keepAliveRequest = request
        let callOptions = client.callOptions()
        deadlines.awaitingAnswer(by: ContinuousClock.now.advanced(by: answerWait))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await deadlines.watch(pollInterval: answerWait) }
            group.addTask {
                try await Etcdserverpb_Lease.Client(wrapping: connection.grpc).leaseKeepAlive(
                    request: StreamingClientRequest { writer in
                        var ttls = renewed.makeAsyncIterator()
                        while true {
                            deadlines.awaitingAnswer(by: ContinuousClock.now.advanced(by: answerWait))
                            try await writer.write(keepAliveRequest)
                            // nil: the call is over (its response side ended and cancelled this side).
                            guard let ttl = await ttls.next() else { return }
                            try await Task.sleep(for: Self.renewalInterval(ttl: ttl))
                        }
                    },
                    options: callOptions
                ) { (response) async throws -> Void in
                    for try await answer in response.messages {
                        guard answer.ttl > 0 else { throw KeelClientError.leaseNotFound(endpoint: connection.endpoint) }
                        deadlines.answered(ttl: answer.ttl)
                        client.preferred.index = endpointIndex
                        answers.yield(answer)
                        renewedContinuation.yield(answer.ttl)
                    }
                    throw StreamFailure(code: .unavailable, message: "the server ended the keepalive stream")
                }
            }
            // Both children end only by throwing, which ends the group and cancels the other.
            _ = try await group.next()
            preconditionFailure("a keepalive stream and its watch end only by throwing")
        }
    }

    /// A third of the TTL, as etcd's client waits: two renewals in a row may fail before the lease expires.
    static func renewalInterval(ttl: Int64) -> Duration {
        precondition(ttl > 0, "a lease that is gone is not renewed")
        return .seconds(ttl) / 3
    }
}

/// A stream failed in a way that the next one (on the next endpoint) may not: the server ended it,
/// or it did not answer a renewal in time.
struct StreamFailure: Error {
    var code: RPCError.Code
    var message: String
}

/// The lease's deadline passed without an answer: it may have expired on the server.
struct LeaseNotRenewed: Error {}

/// When the lease runs out by the last answer, and when the renewal in flight must be answered by.
/// The stream's sender and reader set them; the watch sleeps until the nearer one and checks.
final class RenewalDeadlines: Sendable {
    private struct State {
        /// The last answer's time plus its TTL: after it the lease may be gone.
        var lease: ContinuousClock.Instant
        /// When the renewal in flight must be answered by; nil when none is in flight.
        var answer: ContinuousClock.Instant?
        /// Whether any renewal was answered: until then `lease` is the first answer's deadline.
        var answeredOnce = false
    }

    private let state: Mutex<State>

    /// Starts with `lease` as the deadline of the first answer.
    init(lease: ContinuousClock.Instant) {
        state = Mutex(State(lease: lease, answer: nil))
    }

    /// When the lease may run out, by the last answer (or the first answer's deadline).
    var lease: ContinuousClock.Instant { state.withLock { $0.lease } }
    /// Whether a renewal was ever answered.
    var answeredOnce: Bool { state.withLock { $0.answeredOnce } }

    /// A renewal was sent, or a stream opened (which may hang before its first renewal goes out).
    func awaitingAnswer(by deadline: ContinuousClock.Instant) {
        state.withLock { $0.answer = deadline }
    }

    /// A renewal was answered with `ttl` seconds: the lease lives that long from now.
    func answered(ttl: Int64) {
        let now = ContinuousClock.now
        state.withLock { state in
            state.lease = now.advanced(by: .seconds(ttl))
            state.answer = nil
            state.answeredOnce = true
        }
    }

    /// Returns never; throws ``LeaseNotRenewed`` when the lease's deadline passes, ``StreamFailure``
    /// when the renewal in flight is not answered in time, and `CancellationError` when cancelled.
    /// It looks again at least every `pollInterval`, since a renewal sent while it sleeps sets a
    /// nearer deadline than the one it sleeps towards.
    func watch(pollInterval: Duration) async throws {
        while true {
            let (lease, answer) = state.withLock { ($0.lease, $0.answer) }
            let wake = min(lease, answer ?? lease, ContinuousClock.now.advanced(by: pollInterval))
            try await Task.sleep(until: wake, clock: .continuous)
            let now = ContinuousClock.now
            let (currentLease, currentAnswer) = state.withLock { ($0.lease, $0.answer) }
            if now >= currentLease { throw LeaseNotRenewed() }
            if let currentAnswer, now >= currentAnswer {
                throw StreamFailure(code: .deadlineExceeded, message: "no answer to a renewal within the dial timeout")
            }
        }
    }
}
