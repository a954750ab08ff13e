// Workloads whose clients are not one request at a time: long-lived watch streams that move between
// members, lock holders that keep their own leases alive. They run their own clients beside (or
// instead of) the runner's workers, record into the same history, and finish after the final heal.
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import JepsenChecker
import KeelClient
import KeelProto
import Synchronization

/// A workload that runs clients of its own for the whole run.
///
/// The runner calls ``runSessions(_:)`` once, as the workers start. Until the context's deadline the
/// sessions run under faults; after the final heal the runner calls ``SessionContext/beginDrain(until:)``
/// and the sessions finish (catch up, read the final history) before that instant, or are cancelled.
public protocol SessionWorkload: Workload {
    /// Whether the runner's usual workers also run (`nextOperation`/`perform`); false when the
    /// sessions are the only clients.
    var usesWorkers: Bool { get }

    /// Runs the workload's own clients, recording through `context.recorder`; returns once done.
    /// Must return promptly when the task is cancelled.
    func runSessions(_ context: SessionContext) async
}

/// What a session workload's clients need: the members, the recorder, the schedule.
public final class SessionContext: Sendable {
    /// One member a client can talk to.
    public struct Member: Sendable {
        /// `n1`, `n2`, …
        public var name: String
        /// Its client address.
        public var endpoint: MemberEndpoint

        /// A member.
        public init(name: String, endpoint: MemberEndpoint) {
            self.name = name
            self.endpoint = endpoint
        }
    }

    /// Every member, in order.
    public let members: [Member]
    /// Where every operation goes.
    public let recorder: HistoryRecorder
    /// When the faulty part of the run ends (no new operations after it).
    public let deadline: ContinuousClock.Instant
    /// The run's seed.
    public let seed: UInt64
    /// `--concurrency`: how many clients a workload that has no workers runs.
    public let concurrency: Int
    /// `--op-timeout`: how long one request may take.
    public let operationTimeout: Duration
    /// How long sessions have after the drain deadline to read the final history: long enough to
    /// outlast a cluster that loses its leader again after the heal (seen once for 50 s under the
    /// clock nemesis), so such a run ends with its history rather than unknown.
    public static let finalReadTime: Duration = .seconds(60)
    /// Session processes are numbered from here, far from the workers' and the final reads'.
    static let firstProcess = 20_000_000

    private let drain = Mutex<ContinuousClock.Instant?>(nil)
    private let nextProcessNumber = Mutex(SessionContext.firstProcess)

    /// A context for one run.
    public init(
        members: [Member], recorder: HistoryRecorder, deadline: ContinuousClock.Instant, seed: UInt64, concurrency: Int,
        operationTimeout: Duration
    ) {
        precondition(!members.isEmpty, "a session needs a member to talk to")
        self.members = members
        self.recorder = recorder
        self.deadline = deadline
        self.seed = seed
        self.concurrency = concurrency
        self.operationTimeout = operationTimeout
    }

    /// A process number no other client uses.
    public func nextProcess() -> Int {
        nextProcessNumber.withLock { next in
            defer { next += 1 }
            return next
        }
    }

    /// Whether the faulty part of the run is still going.
    public var isRunning: Bool { !Task.isCancelled && ContinuousClock.now < deadline && !recorder.isFull }

    /// Called by the runner once every fault is healed and every member answers: sessions finish by `instant`.
    public func beginDrain(until instant: ContinuousClock.Instant) {
        drain.withLock { $0 = instant }
    }

    /// The instant sessions must finish by, once the runner has healed everything; nil before.
    public var drainDeadline: ContinuousClock.Instant? { drain.withLock { $0 } }

    /// Waits until the runner says everything is healed; returns the instant to finish by.
    /// Throws `CancellationError` when the run is torn down first.
    public func waitForDrain() async throws -> ContinuousClock.Instant {
        while true {
            if let instant = drainDeadline { return instant }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Records an operation's invocation by `process` against `member`.
    func invoke(_ process: Int, _ f: String, _ value: Value, member: Member?) {
        recorder.record(process: .client(process), type: .invoke, f: f, value: value, node: member?.name)
    }

    /// Records the completion of `process`'s open operation.
    func complete(_ process: Int, _ f: String, _ outcome: OperationOutcome, member: Member?) {
        recorder.record(
            process: .client(process), type: outcome.type, f: f, value: outcome.value, error: outcome.error, node: member?.name)
    }
}

/// A raw gRPC connection to one member, for the services KeelClient does not carry (Watch streams,
/// Lock). No retries: the workloads decide what a failure means.
enum MemberConnection {
    /// The longest wait between two dials of a refusing member: a restarted one is found quickly.
    static let reconnectBackoffMax: Duration = .seconds(1)

    /// Runs `body` with a client connected to `endpoint`, and closes it afterwards.
    static func with<Result: Sendable>(
        _ endpoint: MemberEndpoint, _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> Result
    ) async throws -> Result {
        let config = HTTP2ClientTransport.Posix.Config.defaults { config in
            config.backoff.max = reconnectBackoffMax
        }
        let transport = try HTTP2ClientTransport.Posix(
            target: .ipv4(address: endpoint.host, port: endpoint.port), transportSecurity: .plaintext, config: config)
        return try await withGRPCClient(transport: transport) { client in try await body(client) }
    }

    /// Call options for one request that may take `timeout`; fails at once when not connected, so a
    /// down member is passed over instead of waited for.
    static func options(timeout: Duration?) -> CallOptions {
        var options = CallOptions.defaults
        options.timeout = timeout
        options.waitForReady = false
        return options
    }

    /// Whether a failed request certainly did not change anything: the server's own refusals before
    /// a proposal, or no connection at all. Anything else may have been applied.
    static func certainlyNotApplied(_ error: any Error) -> Bool {
        if let clientError = error as? KeelClientError {
            return !clientError.mayHaveReachedServer || ErrorClassifier.notProposed.contains(clientError.message)
        }
        guard let rpcError = error as? RPCError else { return false }
        return ErrorClassifier.notProposed.contains(rpcError.message)
    }
}

extension KVEvent {
    /// An event as a watch delivered it, at `subOrder` within its revision.
    init(_ event: Mvccpb_Event, subOrder: Int) {
        let isPut = event.type == .put
        self.init(
            revision: Int(event.kv.modRevision), subOrder: subOrder, key: String(decoding: event.kv.key, as: UTF8.self),
            kind: isPut ? .put : .delete, value: isPut ? String(decoding: event.kv.value, as: UTF8.self) : nil,
            createRevision: Int(event.kv.createRevision), version: Int(event.kv.version))
    }
}

/// Numbers events within their revision across responses: a revision's events are consecutive.
struct SubOrderCounter {
    private var revision = 0
    private var next = 0

    /// The sub-order of the next event, which is at `revision`.
    mutating func next(at revision: Int) -> Int {
        if revision != self.revision {
            self.revision = revision
            next = 0
        }
        defer { next += 1 }
        return next
    }
}

/// Reads every event under a prefix from revision 1 to a known head with a fresh watch, trying each
/// member in turn until one delivers them all or `deadline` passes.
enum HistoryReader {
    /// What a read found.
    enum Outcome {
        case events([KVEvent])
        case compacted(Int)
        case failed(String)
    }

    /// Events of `prefix` (every key when empty) at revisions 1...`head`.
    static func read(
        prefix: String, head: Int, members: [SessionContext.Member], deadline: ContinuousClock.Instant
    ) async -> (Outcome, SessionContext.Member?) {
        var lastError = "no member tried before the deadline"
        var attempt = 0
        while ContinuousClock.now < deadline, !Task.isCancelled {
            let member = members[attempt % members.count]
            attempt += 1
            let outcome = await readOnce(prefix: prefix, head: head, member: member, deadline: deadline)
            switch outcome {
            case .events, .compacted: return (outcome, member)
            case .failed(let reason): lastError = "\(member.name): \(reason)"
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return (.failed(lastError), nil)
    }

    private static func readOnce(
        prefix: String, head: Int, member: SessionContext.Member, deadline: ContinuousClock.Instant
    ) async -> Outcome {
        guard head > 1 else { return .events([]) }
        var create = Etcdserverpb_WatchCreateRequest()
        create.key = prefix.isEmpty ? Data([0]) : Data(prefix.utf8)
        create.rangeEnd = prefix.isEmpty ? Data([0]) : KeyRange.prefixEnd(Data(prefix.utf8))
        create.startRevision = 1
        let request = create
        let collected = Mutex<(events: [KVEvent], counter: SubOrderCounter, compacted: Int?)>(([], SubOrderCounter(), nil))
        do {
            try await withDeadline(deadline) {
                try await MemberConnection.with(member.endpoint) { client in
                    let streamRequest = StreamingClientRequest<Etcdserverpb_WatchRequest> { writer in
                        try await writer.write(.with { $0.createRequest = request })
                        // Our side stays open: etcd ends a stream whose client closed its side.
                        try await Task.sleep(until: deadline, clock: .continuous)
                    }
                    let options = MemberConnection.options(timeout: nil)
                    try await Etcdserverpb_Watch.Client(wrapping: client).watch(request: streamRequest, options: options) { response in
                        for try await message in response.messages {
                            let done = collected.withLock { state -> Bool in
                                if message.canceled {
                                    state.compacted = Int(message.compactRevision)
                                    return true
                                }
                                for event in message.events {
                                    let revision = Int(event.kv.modRevision)
                                    state.events.append(KVEvent(event, subOrder: state.counter.next(at: revision)))
                                }
                                return (state.events.last?.revision ?? 0) >= head
                            }
                            if done { return }
                        }
                        throw HarnessError(.setupFailed, "the stream ended before revision \(head)")
                    }
                }
            }
        } catch {
            return .failed("\(error)")
        }
        let state = collected.withLock { $0 }
        if let compacted = state.compacted { return compacted > 0 ? .compacted(compacted) : .failed("the watch was cancelled") }
        return .events(state.events.filter { $0.revision <= head })
    }
}

/// Runs `body`, cancelling it at `deadline` (then throwing `CancellationError`).
func withDeadline<T: Sendable>(_ deadline: ContinuousClock.Instant, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(until: deadline, clock: .continuous)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw CancellationError() }
        return value
    }
}

/// State shared between the tasks of one stream (a reference, so escaping closures can share it).
final class LockedBox<Contents: Sendable>: Sendable {
    private let mutex: Mutex<Contents>

    /// A box holding `contents`.
    init(_ contents: Contents) { mutex = Mutex(contents) }

    /// Runs `body` on the contents under the lock.
    func withLock<Result>(_ body: (inout Contents) throws -> Result) rethrows -> Result {
        try mutex.withLock { try body(&$0) }
    }
}
