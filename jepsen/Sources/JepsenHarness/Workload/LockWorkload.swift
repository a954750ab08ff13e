// `lock`: clients take one lock through etcd's Lock service with leases of their own, some stop
// renewing while they wait or hold (a paused process), and each hold makes fenced writes; checked
// against the whole history read once at the end.
import Foundation
import GRPCCore
import JepsenChecker
import KeelClient
import KeelProto
import Synchronization

/// `--concurrency` lock clients, each spread over the members, each hold: grant a lease (kept alive
/// every second by the client), Lock, read the hold key's create revision (the token), one to three
/// fenced writes (a Txn that puts a fresh key under `jf/` only if the hold key still has the token as
/// its create revision), Unlock, revoke. One hold in ``pauseEvery`` stops renewing for longer than
/// the TTL, while waiting for the lock or while holding it, as a paused process would.
/// ``LockChecker`` judges the history.
public final class LockWorkload: SessionWorkload {
    /// `lock`.
    public static let name = "lock"
    /// The lock's name: hold keys are `jl/<lease in hex>`.
    static let lockName = "jl"
    /// Fenced writes put fresh keys under this prefix, with the token as the value.
    static let fencePrefix = "jf/"
    /// The holders' lease TTL, seconds: above etcd's and kvd's minimum.
    static let leaseTTL = 3
    /// How often a client renews its lease while it renews at all.
    static let renewalInterval: Duration = .seconds(1)
    /// One hold in this many stops renewing.
    static let pauseEvery = 4
    /// How long a paused client goes without renewing, seconds: past the TTL, so the lease expires.
    static let pauseSeconds = 4.0...6.0
    /// Fenced writes per hold.
    static let writesPerHold = 1...3
    /// How long a Lock call may wait for the lock.
    static let lockTimeout: Duration = .seconds(10)
    /// Lock clients at most, whatever `--concurrency` says: each hold excludes the others, so more
    /// clients only wait longer.
    static let clientsMax = 6

    /// A lock workload.
    public init() {}

    /// The lock clients are sessions; there are no plain workers.
    public var usesWorkers: Bool { false }

    /// Never called: ``usesWorkers`` is false.
    public func nextOperation(random: inout SplitMix64) -> PlannedOperation {
        preconditionFailure("the lock workload runs its own clients")
    }

    /// Never called: ``usesWorkers`` is false.
    public func perform(_ operation: PlannedOperation, client: KeelClient, reads: ReadConsistency) async -> OperationOutcome {
        preconditionFailure("the lock workload runs its own clients")
    }

    /// The sessions read the final history themselves.
    public func finalOperations() -> [PlannedOperation] { [] }

    /// The lock checker.
    public func check(_ history: History, timeLimit: Duration?) -> WorkloadVerdict {
        do {
            let result = try LockChecker.check(history)
            return WorkloadVerdict(
                verdict: result.verdict, checker: "lock", summary: result.summary, json: result.json,
                failingOperationIDs: result.violations.map(\.operationID))
        } catch {
            return WorkloadVerdict(
                verdict: .unknown, checker: "lock", summary: "the checker refused the history: \(error)",
                json: "{\"error\": \(jsonString("\(error)"))}")
        }
    }

    /// Runs the clients until the run ends, then reads the whole history once.
    public func runSessions(_ context: SessionContext) async {
        let clients = max(1, min(context.concurrency, Self.clientsMax))
        await withTaskGroup(of: Void.self) { group in
            for client in 0..<clients {
                group.addTask { await self.client(client, context: context) }
            }
            await group.waitForAll()
        }
        guard let drainDeadline = try? await context.waitForDrain() else { return }
        let deadline = drainDeadline + SessionContext.finalReadTime
        let process = context.nextProcess()
        context.invoke(process, "history", .vector([.string("")]), member: nil)
        guard let head = await headRevision(context, deadline: deadline) else {
            context.complete(process, "history", OperationOutcome(type: .fail, value: .nil, error: "no member told its revision"), member: nil)
            return
        }
        let (outcome, member) = await HistoryReader.read(prefix: "", head: head, members: context.members, deadline: deadline)
        switch outcome {
        case .events(let events):
            context.complete(
                process, "history", OperationOutcome(type: .ok, value: .vector([.int(head), .vector(events.map(\.historyValue))])),
                member: member)
        case .compacted(let revision):
            context.complete(process, "history", OperationOutcome(type: .fail, value: .nil, error: "compacted at \(revision)"), member: member)
        case .failed(let reason):
            context.complete(process, "history", OperationOutcome(type: .fail, value: .nil, error: reason), member: member)
        }
    }

    /// The store's revision, from a linearizable read on any member.
    private func headRevision(_ context: SessionContext, deadline: ContinuousClock.Instant) async -> Int? {
        var attempt = 0
        while ContinuousClock.now < deadline, !Task.isCancelled {
            let member = context.members[attempt % context.members.count]
            attempt += 1
            let configuration = KeelClientConfiguration(
                endpoints: [member.endpoint], dialTimeout: .seconds(1), commandTimeout: context.operationTimeout)
            var request = Etcdserverpb_RangeRequest()
            request.key = Data(Self.fencePrefix.utf8)
            request.countOnly = true
            if let response = try? await KeelClient.withClient(configuration, { try await $0.range(request) }) {
                return Int(response.header.revision)
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return nil
    }

    /// One client: holds the lock again and again until the run ends, moving to the next member
    /// when one fails it.
    private func client(_ client: Int, context: SessionContext) async {
        var random = SplitMix64(seed: context.seed &+ 0x6C6F_636B_0000 &+ UInt64(client))
        var process = context.nextProcess()
        var memberIndex = client % context.members.count
        var writes = 0
        while context.isRunning {
            let member = context.members[memberIndex]
            let healthy = await hold(client, process: &process, member: member, writes: &writes, random: &random, context: context)
            if !healthy {
                memberIndex = (memberIndex + 1) % context.members.count
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    /// One hold on `member`; false when the member failed a request (the client moves on).
    private func hold(
        _ client: Int, process: inout Int, member: SessionContext.Member, writes: inout Int, random: inout SplitMix64,
        context: SessionContext
    ) async -> Bool {
        let pause: LockWorkloadPause =
            Int.random(in: 0..<Self.pauseEvery, using: &random) != 0 ? .none : (Bool.random(using: &random) ? .whileWaiting : .whileHolding)
        let pauseSeconds = Double.random(in: Self.pauseSeconds, using: &random)
        let writesCount = Int.random(in: Self.writesPerHold, using: &random)
        var session = HoldSession(client: client, process: process, member: member, context: context, writes: writes)
        let configuration = KeelClientConfiguration(
            endpoints: [member.endpoint], dialTimeout: .seconds(1), commandTimeout: context.operationTimeout)
        let healthy: Bool
        do {
            healthy = try await KeelClient.withClient(configuration) { kv in
                try await MemberConnection.with(member.endpoint) { grpc in
                    await session.run(kv: kv, lock: V3lockpb_Lock.Client(wrapping: grpc), pause: pause, pauseSeconds: pauseSeconds, writesCount: writesCount)
                }
            }
        } catch {
            healthy = false
        }
        process = session.process
        writes = session.writes
        return healthy
    }
}

/// One hold's requests, recorded as they go.
private struct HoldSession {
    let client: Int
    var process: Int
    let member: SessionContext.Member
    let context: SessionContext
    /// The client's fenced writes so far: names each fence key uniquely.
    var writes: Int

    /// Records `f` invoked with `value`, runs `body`, records its outcome; a process whose operation
    /// is unknown never invokes again (Jepsen's rule), so it continues under a new number.
    mutating func record(_ f: String, _ value: Value, isWrite: Bool, _ body: () async throws -> Value) async -> OperationOutcome {
        context.invoke(process, f, value, member: member)
        let outcome: OperationOutcome
        do {
            outcome = OperationOutcome(type: .ok, value: try await body())
        } catch {
            let certain = !isWrite || MemberConnection.certainlyNotApplied(error)
            outcome = OperationOutcome(type: certain ? .fail : .info, value: value, error: Self.describe(error))
        }
        context.complete(process, f, outcome, member: member)
        if outcome.type == .info { process = context.nextProcess() }
        return outcome
    }

    static func describe(_ error: any Error) -> String {
        if let rpc = error as? RPCError { return "\(rpc.code): \(rpc.message)" }
        if let client = error as? KeelClientError { return client.message }
        return "\(error)"
    }

    /// Grant, keep alive, Lock, read the token, fenced writes, Unlock, revoke. Returns false when a
    /// request failed in a way that suggests the member is down.
    mutating func run(
        kv: KeelClient, lock: V3lockpb_Lock.Client<some ClientTransport>, pause: LockWorkloadPause, pauseSeconds: Double, writesCount: Int
    ) async -> Bool {
        let client = self.client
        let context = self.context
        let ttl = LockWorkload.leaseTTL
        var lease: Int64 = 0
        let granted = await record("grant", .vector([.int(client), .int(ttl)]), isWrite: true) {
            let response = try await kv.leaseGrant(ttl: Int64(ttl))
            lease = response.id
            return .vector([.int(client), .int(Int(response.id))])
        }
        guard granted.type == .ok else { return false }
        let renewing = RenewalSwitch()
        let grantedLease = lease
        // The client's own keepalive, which a pause silences.
        let keepAlive = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: LockWorkload.renewalInterval)
                if renewing.isOn { _ = try? await kv.keepAliveOnce(id: grantedLease) }
            }
        }
        defer { keepAlive.cancel() }
        func stopRenewing(_ session: inout HoldSession) async {
            renewing.isOn = false
            let value = Value.vector([.int(client), .int(Int(grantedLease)), .int(Int(pauseSeconds * 1000))])
            _ = await session.record("stop-renewing", value, isWrite: false) { value }
        }
        if pause == .whileWaiting {
            await stopRenewing(&self)
            // Renewing resumes after the pause, too late: the lease has expired by then.
            Task {
                try await Task.sleep(for: .seconds(pauseSeconds))
                renewing.isOn = true
            }
        }
        var holdKey = Data()
        var token: Int?
        let acquired = await record("acquire", .vector([.int(client), .int(Int(grantedLease))]), isWrite: true) {
            var request = V3lockpb_LockRequest()
            request.name = Data(LockWorkload.lockName.utf8)
            request.lease = grantedLease
            let response = try await lock.lock(request, options: MemberConnection.options(timeout: LockWorkload.lockTimeout))
            holdKey = response.key
            // The token: the hold key's create revision, read back at once (nil when it is already gone).
            var range = Etcdserverpb_RangeRequest()
            range.key = response.key
            let read = try? await kv.range(range)
            token = read?.kvs.first.map { Int($0.createRevision) }
            return .vector([
                .int(client), .int(Int(grantedLease)), .string(String(decoding: response.key, as: UTF8.self)), token.map(Value.int) ?? .nil,
                .int(Int(response.header.revision)),
            ])
        }
        var healthy = acquired.type != .fail || (acquired.error ?? "").contains("session is expired")
        if acquired.type == .ok {
            if pause == .whileHolding {
                await stopRenewing(&self)
                // The paused process does nothing at all, then goes on as if it still held the lock.
                try? await Task.sleep(for: .seconds(pauseSeconds))
            }
            if let token {
                for _ in 0..<writesCount {
                    let fenceKey = LockWorkload.fencePrefix + "\(client)/\(writes)"
                    writes += 1
                    let key = holdKey
                    let written = await record("write", .vector([.int(client), .int(token), .string(fenceKey)]), isWrite: true) {
                        var compare = Etcdserverpb_Compare()
                        compare.key = key
                        compare.target = .create
                        compare.result = .equal
                        compare.createRevision = Int64(token)
                        var put = Etcdserverpb_PutRequest()
                        put.key = Data(fenceKey.utf8)
                        put.value = Data(String(token).utf8)
                        var request = Etcdserverpb_TxnRequest()
                        request.compare = [compare]
                        request.success = [.with { $0.request = .requestPut(put) }]
                        let response = try await kv.txn(request)
                        return .vector([.int(client), .int(token), .int(Int(response.header.revision)), .bool(response.succeeded)])
                    }
                    // A refused write means the hold is gone; an unknown one leaves it in doubt: stop either way.
                    if written.type != .ok || written.value.elements?[3] == .bool(false) {
                        if written.type == .fail { healthy = false }
                        break
                    }
                }
            }
            let key = holdKey
            let released = await record("release", .vector([.int(client), .string(String(decoding: key, as: UTF8.self))]), isWrite: true) {
                var request = V3lockpb_UnlockRequest()
                request.key = key
                _ = try await lock.unlock(request, options: MemberConnection.options(timeout: context.operationTimeout))
                return .vector([.int(client)])
            }
            if released.type != .ok { healthy = false }
        }
        // Not recorded: the revoke only tidies up (it deletes a hold key left by a failed Lock or Unlock).
        _ = try? await kv.leaseRevoke(id: grantedLease)
        return healthy
    }
}

/// When a paused hold stops renewing its lease.
enum LockWorkloadPause {
    /// It renews throughout.
    case none
    /// It stops right after the grant, while Lock waits.
    case whileWaiting
    /// It stops once granted, and does nothing for the pause before writing.
    case whileHolding
}

/// Whether a client renews its lease; flipped by a pause, read by the keepalive task.
final class RenewalSwitch: Sendable {
    private let state = Mutex(true)

    /// On: renewing.
    var isOn: Bool {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }
}
