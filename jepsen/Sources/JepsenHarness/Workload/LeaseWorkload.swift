// `lease`: clients hold lease-backed keys, keep some leases alive, let others expire or revoke them,
// and read the keys all along; checked against the store's stated bound on when a lease expires.
import Foundation
import JepsenChecker
import KeelClient
import KeelProto
import Synchronization

/// Leases with two keys each, driven through a life: grant (with a chosen ID, so an unknown outcome
/// still names the lease), attach both keys in one transaction, keep alive for a while, then either
/// revoke or stop renewing and read until the keys are gone. Reads and keepalives are recorded with
/// their times; ``LeaseChecker`` judges them.
public final class LeaseWorkload: Workload {
    /// `lease`.
    public static let name = "lease"
    /// Leases alive at once, besides the anchor.
    static let sessionsCount = 10
    /// The anchor lease: no keys, renewed every ``anchorRenewalSeconds`` for the whole run, so that
    /// its acknowledged keepalives show when a leader able to run leases existed. The bound excludes
    /// time without one, and the checker counts every gap between acknowledged writes as such time:
    /// without a steady stream of them the late check would judge almost nothing.
    static let anchorTTL = 10
    /// How often the anchor lease is renewed.
    static let anchorRenewalSeconds = 0.1
    /// TTLs drawn, in seconds: above etcd's and kvd's default minimum of 2 s.
    static let ttls = [3, 4, 6]
    /// A lease is renewed when this fraction of its TTL has passed since the last renewal was sent.
    static let renewalFraction = 0.25
    /// One lease in this many is revoked rather than let expire.
    static let revokeEvery = 3
    /// An expiring lease is read for at most its TTL plus this long, then given up (the checker judges
    /// what the reads saw, and the final reads see every lease).
    static let expiryWatchSeconds = 60.0
    /// Lease IDs start here (positive, and far from IDs a server assigns by itself).
    static let firstLeaseID = 0x4B45_454C_0000
    /// The checkpoint interval and election timeout the bound assumes: kvd's defaults, as the harness
    /// starts it.
    let bound: LeaseChecker.Bound

    private let state = Mutex(Sessions())

    /// The life of one lease.
    enum Phase {
        case grant, attach, alive, revoke, expiring, done
    }

    struct Session {
        var lease: Int
        var ttl: Int
        var phase: Phase = .grant
        /// An operation that moves the phase is in flight.
        var busy = false
        var lastRenewalSent = ContinuousClock.now
        /// Kept alive until then, once attached.
        var keepUntil = ContinuousClock.now
        var expiringSince = ContinuousClock.now
        var revokes = false
        /// The anchor lease (see ``LeaseWorkload/anchorTTL``).
        var anchor = false

        /// Seconds between renewals.
        var renewalSeconds: Double { anchor ? LeaseWorkload.anchorRenewalSeconds : Double(ttl) * LeaseWorkload.renewalFraction }
    }

    struct Sessions {
        var nextLease = LeaseWorkload.firstLeaseID
        var sessions: [Session] = []
    }

    /// A lease workload judged against `bound`.
    public init(bound: LeaseChecker.Bound = LeaseChecker.Bound()) {
        self.bound = bound
    }

    /// The key `index` of a lease.
    static func key(lease: Int, index: Int) -> Data { Data("l/\(lease)/\(index)".utf8) }

    /// The prefix of every key of a lease.
    static func prefix(lease: Int) -> Data { Data("l/\(lease)/".utf8) }

    /// The next step of the lease that most needs one, or a read of some lease.
    public func nextOperation(random: inout SplitMix64) -> PlannedOperation {
        state.withLock { state in
            let now = ContinuousClock.now
            while state.sessions.count < Self.sessionsCount + 1 || state.sessions.contains(where: { $0.phase == .done }) {
                var session = Session(lease: state.nextLease, ttl: Self.ttls.randomElement(using: &random)!)
                session.revokes = Int.random(in: 0..<Self.revokeEvery, using: &random) == 0
                if !state.sessions.contains(where: { $0.anchor && $0.phase != .done }) {
                    session.anchor = true
                    session.ttl = Self.anchorTTL
                    session.revokes = false
                }
                state.nextLease += 1
                if let done = state.sessions.firstIndex(where: { $0.phase == .done }) {
                    state.sessions[done] = session
                } else {
                    state.sessions.append(session)
                }
            }
            for index in state.sessions.indices.shuffled(using: &random) where !state.sessions[index].busy {
                if let operation = step(&state.sessions[index], now: now, random: &random) {
                    return operation
                }
            }
            let lease = state.sessions.filter { !$0.anchor }.randomElement(using: &random)!.lease
            return PlannedOperation(f: "read", value: .vector([.int(lease), .nil]))
        }
    }

    /// The operation that advances `session`, if it needs one now; marks it busy.
    private func step(_ session: inout Session, now: ContinuousClock.Instant, random: inout SplitMix64) -> PlannedOperation? {
        let lease = Value.int(session.lease)
        let operation: PlannedOperation?
        switch session.phase {
        case .grant:
            operation = PlannedOperation(f: "grant", value: .vector([lease, .int(session.ttl)]))
        case .attach:
            operation = PlannedOperation(f: "put", value: .vector([lease]))
        case .alive where now >= session.keepUntil:
            session.phase = session.revokes ? .revoke : .expiring
            session.expiringSince = now
            return step(&session, now: now, random: &random)
        case .alive where now - session.lastRenewalSent >= .seconds(session.renewalSeconds):
            session.lastRenewalSent = now
            operation = PlannedOperation(f: "keepalive", value: .vector([lease]))
        case .revoke:
            operation = PlannedOperation(f: "revoke", value: .vector([lease]))
        case .expiring where now - session.expiringSince > .seconds(Double(session.ttl) + Self.expiryWatchSeconds):
            session.phase = .done
            operation = nil
        case .alive, .expiring, .done:
            operation = nil
        }
        if operation != nil { session.busy = true }
        return operation
    }

    /// Moves the session of `lease` on after its operation `f` ended with `outcome`.
    private func advance(lease: Int, f: String, outcome: OperationOutcome) {
        state.withLock { state in
            guard let index = state.sessions.firstIndex(where: { $0.lease == lease }) else { return }
            var session = state.sessions[index]
            let now = ContinuousClock.now
            switch f {
            case "grant" where session.anchor:
                // The anchor has no keys: straight from its grant to being kept alive.
                session.phase = outcome.type == .fail ? .done : .alive
                session.lastRenewalSent = now
                session.keepUntil = .now + .seconds(365 * 86_400)
            case "grant":
                // An unknown grant may have happened: attaching tells (it fails on a missing lease).
                session.phase = outcome.type == .fail ? .done : .attach
            case "put":
                if outcome.type == .fail {
                    session.phase = .done
                } else {
                    session.phase = .alive
                    session.lastRenewalSent = now
                    session.keepUntil = now + .seconds(Double(session.ttl) * Double.random(in: 0.5...3))
                }
            case "keepalive":
                if outcome.type == .ok, outcome.value.elements?[1].intValue == 0 { session.phase = session.anchor ? .done : .expiring }
            case "revoke":
                session.phase = .expiring
            case "read":
                if session.phase == .expiring, outcome.type == .ok, outcome.value.elements?[1].intValue == 0 {
                    session.phase = .done
                }
            default:
                break
            }
            if f != "read" { session.busy = false }
            state.sessions[index] = session
        }
    }

    /// Performs one step of a lease's life, or a read.
    public func perform(_ operation: PlannedOperation, client: KeelClient, reads: ReadConsistency) async -> OperationOutcome {
        if operation.f == "read-all" { return await readAll(client: client, reads: reads) }
        guard let lease = operation.value.elements?.first?.intValue else {
            preconditionFailure("lease operations start with the lease ID")
        }
        let outcome = await perform(operation, lease: lease, client: client, reads: reads)
        advance(lease: lease, f: operation.f, outcome: outcome)
        return outcome
    }

    private func perform(_ operation: PlannedOperation, lease: Int, client: KeelClient, reads: ReadConsistency) async
        -> OperationOutcome
    {
        do {
            switch operation.f {
            case "grant":
                let ttl = operation.value.elements![1].intValue!
                let response = try await client.leaseGrant(ttl: Int64(ttl), id: Int64(lease))
                return OperationOutcome(type: .ok, value: .vector([.int(lease), .int(Int(response.ttl))]))
            case "put":
                var request = Etcdserverpb_TxnRequest()
                request.success = (0..<bound.keysPerLease).map { index in
                    var put = Etcdserverpb_PutRequest()
                    put.key = Self.key(lease: lease, index: index)
                    put.value = Data("\(lease)".utf8)
                    put.lease = Int64(lease)
                    var op = Etcdserverpb_RequestOp()
                    op.request = .requestPut(put)
                    return op
                }
                _ = try await client.txn(request)
                return OperationOutcome(type: .ok, value: operation.value)
            case "keepalive":
                do {
                    let response = try await client.keepAliveOnce(id: Int64(lease))
                    // The term lets the checker count leader changes, each of which may lengthen a lease.
                    return OperationOutcome(
                        type: .ok, value: .vector([.int(lease), .int(Int(response.ttl)), .int(Int(response.header.raftTerm))]))
                } catch let error as KeelClientError where error.kind == .leaseNotFound {
                    return OperationOutcome(type: .ok, value: .vector([.int(lease), .int(0)]))
                }
            case "revoke":
                _ = try await client.leaseRevoke(id: Int64(lease))
                return OperationOutcome(type: .ok, value: operation.value)
            case "read":
                var request = Etcdserverpb_RangeRequest()
                request.key = Self.prefix(lease: lease)
                request.rangeEnd = KeyRange.prefixEnd(request.key)
                request.serializable = reads == .serializable
                let response = try await client.range(request)
                // A key attached to another lease (or none) is not this lease's.
                let keys = response.kvs.filter { $0.lease == Int64(lease) }.count
                return OperationOutcome(type: .ok, value: .vector([.int(lease), .int(keys)]))
            default:
                preconditionFailure("unknown lease operation \(operation.f)")
            }
        } catch {
            return ErrorClassifier.outcome(of: error, value: operation.value, isWrite: operation.f != "read")
        }
    }

    /// Every lease's keys present, as `[[lease keys] ...]`.
    private func readAll(client: KeelClient, reads: ReadConsistency) async -> OperationOutcome {
        do {
            var request = Etcdserverpb_RangeRequest()
            request.key = Data("l/".utf8)
            request.rangeEnd = KeyRange.prefixEnd(request.key)
            request.serializable = reads == .serializable
            let response = try await client.range(request)
            var counts: [Int: Int] = [:]
            for kv in response.kvs { counts[Int(kv.lease), default: 0] += 1 }
            let pairs = counts.keys.sorted().map { Value.vector([.int($0), .int(counts[$0]!)]) }
            return OperationOutcome(type: .ok, value: .vector(pairs))
        } catch {
            return ErrorClassifier.outcome(of: error, value: .nil, isWrite: false)
        }
    }

    /// One read of every lease's keys from every member.
    public func finalOperations() -> [PlannedOperation] { [PlannedOperation(f: "read-all", value: .nil)] }

    /// The lease checker, with the clock faults of the run's `clock` nemesis widening the bound.
    public func check(_ history: History, timeLimit: Duration?) -> WorkloadVerdict {
        let bound = ClockNemesis.leaseBound(bound, widenedFor: history)
        do {
            let result = try LeaseChecker.check(history, bound: bound)
            return WorkloadVerdict(
                verdict: result.verdict, checker: "lease", summary: result.summary, json: result.json,
                failingOperationIDs: result.violations.flatMap { [$0.operationID] + ($0.causeOperationID.map { [$0] } ?? []) })
        } catch {
            return WorkloadVerdict(
                verdict: .unknown, checker: "lease", summary: "the checker refused the history: \(error)",
                json: "{\"error\": \(jsonString("\(error)"))}")
        }
    }
}
