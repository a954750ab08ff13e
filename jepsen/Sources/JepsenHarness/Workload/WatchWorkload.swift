// `watch`: writers put and delete keys under a prefix while watchers on every member follow it over
// etcd's Watch streams, moving to another member and resuming after their last event when a stream
// fails or stalls; checked against the whole history read once at the end.
import Foundation
import GRPCCore
import JepsenChecker
import KeelClient
import KeelProto
import Synchronization

/// Writers (the runner's workers: puts of one or two keys in one transaction, deletes) and watchers
/// (this workload's sessions) on the prefix `w/`; ``WatchChecker`` judges the history.
public final class WatchWorkload: SessionWorkload {
    /// `watch`.
    public static let name = "watch"
    /// Every key written lives under this prefix.
    static let prefix = "w/"
    /// Keys written, so that puts update and deletes find keys often.
    static let keysCount = 8
    /// Watchers per member.
    static let watchersPerMember = 2
    /// A progress request is sent this often on every stream; the answers show the stream is alive.
    static let progressRequestInterval: Duration = .seconds(1)
    /// A stream that delivers nothing (no event, no progress) for this long is given up as stalled
    /// (its member paused, or cut off), and the watcher resumes elsewhere.
    static let stallTimeout: Duration = .seconds(4)
    /// A watcher moves to the next member on its own after this many seconds (drawn between the
    /// bounds), so resumptions also happen without faults and on followers.
    static let hopSeconds = 6.0...15.0
    /// Pause before a watcher tries the next member after a failure.
    static let retryPause: Duration = .milliseconds(200)

    /// The writers' next value (unique over the run) and the watchers' target after the heal.
    private let state = Mutex(Shared())

    private struct Shared {
        var nextValue = 0
        /// The revision every watcher must reach once healed (the final marker write's).
        var target: Int?
    }

    /// A watch workload.
    public init() {}

    /// Writers run as the runner's workers; watchers as sessions.
    public var usesWorkers: Bool { true }

    // MARK: writers

    /// A put of one or two keys (one transaction, one revision) or a delete.
    public func nextOperation(random: inout SplitMix64) -> PlannedOperation {
        func key() -> String { Self.prefix + String(Int.random(in: 0..<Self.keysCount, using: &random)) }
        if Int.random(in: 0..<5, using: &random) == 0 {
            return PlannedOperation(f: "delete", value: .vector([.string(key())]))
        }
        var keys = [key()]
        if Bool.random(using: &random) {
            let second = key()
            if second != keys[0] { keys.append(second) }
        }
        let pairs: [Value] = state.withLock { shared in
            keys.map { key in
                defer { shared.nextValue += 1 }
                return .vector([.string(key), .string("v\(shared.nextValue)")])
            }
        }
        return PlannedOperation(f: "put", value: .vector(pairs))
    }

    /// Performs a put (a Txn of puts, so its keys share one revision) or a delete.
    public func perform(_ operation: PlannedOperation, client: KeelClient, reads: ReadConsistency) async -> OperationOutcome {
        do {
            switch operation.f {
            case "put":
                var request = Etcdserverpb_TxnRequest()
                request.success = (operation.value.elements ?? []).map { pair in
                    guard case .string(let key) = pair.elements![0], case .string(let value) = pair.elements![1] else {
                        preconditionFailure("a put is [[key value] ...]")
                    }
                    var put = Etcdserverpb_PutRequest()
                    put.key = Data(key.utf8)
                    put.value = Data(value.utf8)
                    var op = Etcdserverpb_RequestOp()
                    op.request = .requestPut(put)
                    return op
                }
                let response = try await client.txn(request)
                return OperationOutcome(type: .ok, value: .vector([.int(Int(response.header.revision)), operation.value]))
            case "delete":
                guard case .string(let key) = operation.value.elements![0] else { preconditionFailure("a delete is [key]") }
                var request = Etcdserverpb_DeleteRangeRequest()
                request.key = Data(key.utf8)
                let response = try await client.deleteRange(request)
                return OperationOutcome(type: .ok, value: .vector([.int(Int(response.header.revision)), .int(Int(response.deleted))]))
            default:
                preconditionFailure("unknown watch-workload operation \(operation.f)")
            }
        } catch {
            return ErrorClassifier.outcome(of: error, value: operation.value, isWrite: true)
        }
    }

    /// The sessions read the final history themselves; no per-member reads.
    public func finalOperations() -> [PlannedOperation] { [] }

    /// The watch checker.
    public func check(_ history: History, timeLimit: Duration?) -> WorkloadVerdict {
        do {
            let result = try WatchChecker.check(history)
            return WorkloadVerdict(
                verdict: result.verdict, checker: "watch", summary: result.summary, json: result.json,
                failingOperationIDs: result.violations.map(\.operationID))
        } catch {
            return WorkloadVerdict(
                verdict: .unknown, checker: "watch", summary: "the checker refused the history: \(error)",
                json: "{\"error\": \(jsonString("\(error)"))}")
        }
    }

    // MARK: watchers

    /// Runs the watchers until the run ends; after the heal writes a marker, lets every watcher reach
    /// it, then reads the whole history once.
    public func runSessions(_ context: SessionContext) async {
        let watchersCount = Self.watchersPerMember * context.members.count
        await withTaskGroup(of: Void.self) { group in
            for watcher in 0..<watchersCount {
                group.addTask { await self.watch(watcher, context: context) }
            }
            group.addTask { await self.finish(context) }
            await group.waitForAll()
        }
        guard let drainDeadline = context.drainDeadline, let head = state.withLock({ $0.target }) else { return }
        let process = context.nextProcess()
        context.invoke(process, "history", .vector([.string(Self.prefix)]), member: nil)
        let (outcome, member) = await HistoryReader.read(
            prefix: Self.prefix, head: head, members: context.members, deadline: drainDeadline + SessionContext.finalReadTime)
        switch outcome {
        case .events(let events):
            context.complete(
                process, "history", OperationOutcome(type: .ok, value: .vector([.int(head), .vector(events.map(\.historyValue))])),
                member: member)
        case .compacted(let revision):
            context.complete(
                process, "history", OperationOutcome(type: .fail, value: .nil, error: "compacted at revision \(revision)"), member: member)
        case .failed(let reason):
            context.complete(process, "history", OperationOutcome(type: .fail, value: .nil, error: reason), member: member)
        }
    }

    /// After the heal: one last put, whose revision every watcher must reach (the writers have
    /// stopped, so it is the head revision).
    private func finish(_ context: SessionContext) async {
        guard let drainDeadline = try? await context.waitForDrain() else { return }
        let value: String = state.withLock { shared in
            defer { shared.nextValue += 1 }
            return "v\(shared.nextValue)"
        }
        let operation = PlannedOperation(f: "put", value: .vector([.vector([.string(Self.prefix + "marker"), .string(value)])]))
        var attempt = 0
        while ContinuousClock.now < drainDeadline, !Task.isCancelled {
            let member = context.members[attempt % context.members.count]
            attempt += 1
            let process = context.nextProcess()
            context.invoke(process, operation.f, operation.value, member: member)
            let configuration = KeelClientConfiguration(
                endpoints: [member.endpoint], dialTimeout: .seconds(1), commandTimeout: context.operationTimeout)
            let outcome: OperationOutcome
            do {
                outcome = try await KeelClient.withClient(configuration) { client in
                    await perform(operation, client: client, reads: .linearizable)
                }
            } catch {
                outcome = OperationOutcome(type: .info, value: operation.value, error: "\(error)")
            }
            context.complete(process, operation.f, outcome, member: member)
            if outcome.type == .ok, let revision = outcome.value.elements?.first?.intValue {
                state.withLock { $0.target = revision }
                return
            }
            // An unknown marker may still land; a fresh one (a new value) gives a known revision.
            try? await Task.sleep(for: Self.retryPause)
        }
    }

    /// One watcher's life: streams to one member after another, each resuming after the last event.
    private func watch(_ watcher: Int, context: SessionContext) async {
        var random = SplitMix64(seed: context.seed &+ 0x7761_7463_6800 &+ UInt64(watcher))
        let process = context.nextProcess()
        // Half start from the first revision (history, then live), half from now.
        let firstStart = watcher % 2 == 0 ? 1 : 0
        var progress = WatcherProgress(start: firstStart)
        var memberIndex = watcher % context.members.count
        while !Task.isCancelled {
            let drainDeadline = context.drainDeadline
            if let drainDeadline {
                if let target = state.withLock({ $0.target }), progress.lastRevision >= target {
                    end(process, watcher, "caught-up", progress, context)
                    return
                }
                if ContinuousClock.now >= drainDeadline {
                    end(process, watcher, "timeout", progress, context)
                    return
                }
            }
            let member = context.members[memberIndex]
            let hop = Duration.seconds(Double.random(in: Self.hopSeconds, using: &random))
            let ended = await stream(process: process, watcher: watcher, member: member, progress: &progress, hopAfter: hop, context: context)
            if ended { return }
            memberIndex = (memberIndex + 1) % context.members.count
            try? await Task.sleep(for: Self.retryPause)
        }
    }

    /// Where a watcher is.
    struct WatcherProgress {
        /// The revision its current or next stream starts at (0: from now).
        var start: Int
        /// The revision of its last event (0: none yet).
        var lastRevision = 0
        /// Numbers events within a revision.
        var counter = SubOrderCounter()

        /// The start of the next stream: just after the last event, or the first start again if
        /// nothing arrived yet (a "from now" watch that saw nothing cannot name a revision: the
        /// created answer's revision may already count events it will deliver).
        var resumeAt: Int { lastRevision > 0 ? lastRevision + 1 : start }
    }

    private func end(_ process: Int, _ watcher: Int, _ reason: String, _ progress: WatcherProgress, _ context: SessionContext) {
        context.invoke(process, "watch-end", .vector([.int(watcher)]), member: nil)
        context.complete(
            process, "watch-end",
            OperationOutcome(type: .ok, value: .vector([.int(watcher), .string(reason), .int(progress.lastRevision)])), member: nil)
    }

    /// What a stream's receiving side saw, shared with its progress-request side.
    private struct StreamState {
        var created = false
        var lastMessage = ContinuousClock.now
        var compacted: Int?
        /// Why the watchdog ended a healthy stream (`hop`, `caught-up`, `drain-timeout`).
        var endReason: String?
    }

    /// One stream to `member`, until it fails, stalls, is due to hop, or the watcher is done.
    /// Returns true when the watcher ended for good (compacted, caught up, or out of time).
    private func stream(
        process: Int, watcher: Int, member: SessionContext.Member, progress: inout WatcherProgress, hopAfter: Duration,
        context: SessionContext
    ) async -> Bool {
        let start = progress.resumeAt
        progress.start = start
        context.invoke(process, "watch", .vector([.int(watcher), .int(start)]), member: member)
        var create = Etcdserverpb_WatchCreateRequest()
        create.key = Data(Self.prefix.utf8)
        create.rangeEnd = KeyRange.prefixEnd(create.key)
        create.startRevision = Int64(start)
        let request = create
        let shared = LockedBox(StreamState())
        let carried = LockedBox(progress)
        let hopAt = ContinuousClock.now + hopAfter
        let workload = self
        var failure: String?
        do {
            try await MemberConnection.with(member.endpoint) { client in
                let streamRequest = StreamingClientRequest<Etcdserverpb_WatchRequest> { writer in
                    try await writer.write(.with { $0.createRequest = request })
                    // Progress requests keep answers coming on an idle stream, so silence means a
                    // stalled member; our side stays open (etcd ends a stream whose client closed it).
                    while true {
                        try await Task.sleep(for: Self.progressRequestInterval)
                        try await writer.write(.with { $0.progressRequest = Etcdserverpb_WatchProgressRequest() })
                    }
                }
                let options = MemberConnection.options(timeout: nil)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        try await Etcdserverpb_Watch.Client(wrapping: client).watch(request: streamRequest, options: options) { response in
                            for try await message in response.messages {
                                shared.withLock { $0.lastMessage = .now }
                                if message.created {
                                    if message.canceled {
                                        if message.compactRevision > 0 {
                                            shared.withLock { $0.compacted = Int(message.compactRevision) }
                                            return
                                        }
                                        throw HarnessError(.setupFailed, "watch refused: \(message.cancelReason)")
                                    }
                                    shared.withLock { $0.created = true }
                                    context.complete(
                                        process, "watch",
                                        OperationOutcome(type: .ok, value: .vector([.int(watcher), .int(start), .int(Int(message.header.revision))])),
                                        member: member)
                                    continue
                                }
                                if message.canceled {
                                    if message.compactRevision > 0 {
                                        shared.withLock { $0.compacted = Int(message.compactRevision) }
                                        return
                                    }
                                    throw HarnessError(.setupFailed, "watch cancelled: \(message.cancelReason)")
                                }
                                guard !message.events.isEmpty else { continue }
                                let events = carried.withLock { progress in
                                    message.events.map { event in
                                        let converted = KVEvent(event, subOrder: progress.counter.next(at: Int(event.kv.modRevision)))
                                        progress.lastRevision = converted.revision
                                        return converted
                                    }
                                }
                                context.invoke(process, "events", .vector([.int(watcher)]), member: member)
                                context.complete(
                                    process, "events",
                                    OperationOutcome(type: .ok, value: .vector([.int(watcher), .vector(events.map(\.historyValue))])),
                                    member: member)
                            }
                            throw HarnessError(.setupFailed, "the server ended the stream")
                        }
                    }
                    // The watchdog: ends the stream when it stalls, when it is time to hop, or when
                    // the watcher has caught up (or run out of time) after the heal.
                    group.addTask {
                        while true {
                            try await Task.sleep(for: .milliseconds(100))
                            let now = ContinuousClock.now
                            let (created, silentSince, compacted) = shared.withLock { ($0.created, $0.lastMessage, $0.compacted) }
                            if compacted != nil { return }
                            if now - silentSince > Self.stallTimeout {
                                throw HarnessError(.setupFailed, created ? "stalled: nothing for \(Self.stallTimeout)" : "not created within \(Self.stallTimeout)")
                            }
                            if let drainDeadline = context.drainDeadline {
                                let last = carried.withLock { $0.lastRevision }
                                if let target = workload.state.withLock({ $0.target }), last >= target {
                                    shared.withLock { $0.endReason = "caught-up" }
                                    return
                                }
                                if now >= drainDeadline {
                                    shared.withLock { $0.endReason = "drain-timeout" }
                                    return
                                }
                            } else if now >= hopAt, created {
                                shared.withLock { $0.endReason = "hop" }
                                return
                            }
                        }
                    }
                    try await group.next()
                    group.cancelAll()
                }
            }
        } catch is CancellationError {
            failure = "cancelled"
        } catch {
            failure = "\(error)"
        }
        progress = carried.withLock { $0 }
        let (created, compacted, endReason) = shared.withLock { ($0.created, $0.compacted, $0.endReason) }
        if created, compacted == nil {
            // Why this stream ended: the checker counts resumptions after failures apart from hops.
            let reason = failure.map { "failed: \($0)" } ?? endReason ?? "ended"
            context.invoke(process, "stream-end", .vector([.int(watcher)]), member: member)
            context.complete(process, "stream-end", OperationOutcome(type: .ok, value: .vector([.int(watcher), .string(reason)])), member: member)
        }
        if !created {
            if compacted != nil {
                context.complete(
                    process, "watch", OperationOutcome(type: .fail, value: .vector([.int(watcher), .int(start)]), error: "compacted"),
                    member: member)
            } else {
                context.complete(
                    process, "watch",
                    OperationOutcome(type: .fail, value: .vector([.int(watcher), .int(start)]), error: failure ?? "no answer"),
                    member: member)
            }
        }
        if let compacted {
            context.invoke(process, "compacted", .vector([.int(watcher)]), member: member)
            context.complete(process, "compacted", OperationOutcome(type: .ok, value: .vector([.int(watcher), .int(compacted)])), member: member)
            return true
        }
        return Task.isCancelled
    }
}
