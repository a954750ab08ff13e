import KeelStorage

/// The leases' timers. Every node knows every lease (grants, revokes and checkpoints come through
/// the log); only the primary, the leader once it applied every entry of earlier terms, runs their
/// timers: it answers keepalives, and proposes a revoke when a lease expires and a checkpoint of
/// its remaining time when one went its checkpoint period without a renewal. A leader change can
/// give a lease at most that period (plus `grace`) beyond its true expiry: the time the old primary
/// counted since the last checkpoint. The period is `checkpointInterval`, or a twentieth of the TTL
/// if that is longer (a million idle hour-long leases then cost about 5,600 checkpoints a second,
/// not 200,000), and never more than half the TTL, so short leases do not start over at each
/// leader change, while a client that renews every third of the TTL, as etcd's does, never meets a
/// checkpoint (and the reset entry that follows one).
///
/// The rule that keeps a leader change from expiring a lease early: what the log says a lease has
/// left (its checkpoint, or its whole TTL) is never less than what it really has. A checkpoint is
/// exact when proposed and only shrinks in truth afterwards; a renewal of a lease whose checkpoint
/// is recorded (or on its way) first puts a reset through the log (``RenewDecision/needsReset``) and
/// is answered once it applied. A new primary gives each lease what the log says, at least `grace`.
///
/// Machine time only (a `Duration` on the driver's monotonic clock): deterministic, no clocks.
struct Lessor {
    struct Lease {
        var ttlSeconds: Int64
        /// As applied: nil when the log says the whole TTL is left.
        var checkpointed: Int64?
        /// Primary only: when the lease expires.
        var expiry: Duration?
        /// Primary only: when to look at it next (its expiry, or a revoke's retry).
        var timer: Duration?
        /// Primary only: when its next checkpoint is due.
        var checkpointDue: Duration?
        /// A checkpoint with a remaining time was proposed and has not applied yet.
        var checkpointInFlight = false
        /// A reset (a checkpoint back to the whole TTL) was proposed and has not applied yet.
        var resetInFlight = false
        /// Expired: a revoke was proposed; it cannot be renewed any more.
        var revoking = false
        /// A revoke for its expiry went into the log at least once (retries are not counted again).
        var expiryProposed = false

        var ttl: Duration { .seconds(ttlSeconds) }
    }

    /// How long `lease` may go without a renewal before its remaining time goes into the log.
    func checkpointInterval(of lease: Lease) -> Duration {
        min(max(checkpointInterval, lease.ttl / Self.checkpointsPerTTL), lease.ttl / 2)
    }

    /// An idle lease is checkpointed at least every this fraction of its TTL (when longer than the interval).
    static let checkpointsPerTTL = 20

    /// What ``renew(_:now:)`` decided.
    enum RenewDecision: Equatable {
        /// Renewed: the lease now has its whole TTL.
        case renewed(ttlSeconds: Int64)
        /// No such lease, or it expired.
        case notFound
        /// The log says less than the whole TTL is left: a reset must apply first.
        case needsReset
        /// This node is not the primary.
        case notPrimary
    }

    let checkpointInterval: Duration
    let grace: Duration
    private(set) var leases: [Int64: Lease] = [:]
    private(set) var isPrimary = false
    private var expiries = TimerHeap()
    private var checkpoints = TimerHeap()

    init(checkpointInterval: Duration, grace: Duration) {
        self.checkpointInterval = checkpointInterval
        self.grace = grace
    }

    /// Replaces every lease (at start, and after installing a leader's snapshot).
    mutating func load(_ records: [LeaseRecord], now: Duration) {
        let wasPrimary = isPrimary
        demote()
        leases = [:]
        leases.reserveCapacity(records.count)
        for record in records { leases[record.id] = Lease(ttlSeconds: record.ttlSeconds, checkpointed: record.checkpointedMilliseconds) }
        if wasPrimary { promote(now: now) }
    }

    // MARK: What the log applied

    mutating func granted(id: Int64, ttlSeconds: Int64, now: Duration) {
        leases[id] = Lease(ttlSeconds: ttlSeconds)
        if isPrimary { start(id, remaining: .seconds(ttlSeconds), now: now) }
    }

    mutating func revoked(id: Int64) {
        leases[id] = nil
    }

    /// Records applied checkpoints; a lease whose reset applied can be renewed at once again.
    mutating func checkpointed(_ applied: [LeaseCheckpoint]) {
        for checkpoint in applied {
            guard var lease = leases[checkpoint.id] else { continue }
            lease.checkpointed = checkpoint.remainingMilliseconds
            if checkpoint.remainingMilliseconds == nil {
                lease.resetInFlight = false
            } else {
                lease.checkpointInFlight = false
            }
            leases[checkpoint.id] = lease
        }
    }

    // MARK: Leadership

    /// This node leads and applied every entry of earlier terms: time every lease from what the log
    /// says is left, at least `grace` (clients need time to find the new leader).
    mutating func promote(now: Duration) {
        guard !isPrimary else { return }
        isPrimary = true
        for id in leases.keys.sorted() {
            let lease = leases[id]!
            start(id, remaining: max(.milliseconds(lease.checkpointed ?? lease.ttlSeconds * 1000), grace), now: now)
        }
    }

    /// No longer leads: timers stop; what was in flight is forgotten (the next primary judges anew).
    mutating func demote() {
        guard isPrimary else { return }
        isPrimary = false
        for id in leases.keys {
            leases[id]!.expiry = nil
            leases[id]!.timer = nil
            leases[id]!.checkpointDue = nil
            leases[id]!.checkpointInFlight = false
            leases[id]!.resetInFlight = false
            leases[id]!.revoking = false
        }
        expiries = TimerHeap()
        checkpoints = TimerHeap()
    }

    private mutating func start(_ id: Int64, remaining: Duration, now: Duration) {
        let expiry = now + remaining
        leases[id]!.expiry = expiry
        leases[id]!.timer = expiry
        let checkpointDue = now + checkpointInterval(of: leases[id]!)
        leases[id]!.checkpointDue = checkpointDue
        expiries.push(expiry, id)
        checkpoints.push(checkpointDue, id)
        compactHeaps()
    }

    // MARK: Requests

    /// A keepalive, on the primary.
    mutating func renew(_ id: Int64, now: Duration) -> RenewDecision {
        guard isPrimary else { return .notPrimary }
        guard let lease = leases[id], !lease.revoking, let expiry = lease.expiry, expiry > now else { return .notFound }
        if lease.checkpointed != nil || lease.checkpointInFlight || lease.resetInFlight { return .needsReset }
        start(id, remaining: lease.ttl, now: now)
        return .renewed(ttlSeconds: lease.ttlSeconds)
    }

    /// A reset for `id` is being proposed.
    mutating func resetProposed(_ id: Int64) { leases[id]?.resetInFlight = true }

    /// Whether a reset for `id` is on its way through the log.
    func resetPending(_ id: Int64) -> Bool { leases[id]?.resetInFlight ?? false }

    /// Granted and remaining time, on the primary; nil when there is no such (live) lease.
    func timeToLive(_ id: Int64, now: Duration) -> (grantedSeconds: Int64, remaining: Duration)? {
        guard isPrimary, let lease = leases[id], !lease.revoking, let expiry = lease.expiry, expiry > now else { return nil }
        return (lease.ttlSeconds, expiry - now)
    }

    // MARK: Timers

    /// Leases that expired by `now` (at most `revokeLimit`; a revoke not applied after
    /// `revokeRetry` is proposed again), and checkpoints due (at most `checkpointLimit`).
    mutating func due(now: Duration, revokeLimit: Int, revokeRetry: Duration, checkpointLimit: Int) -> (
        revoke: [Int64], checkpoint: [LeaseCheckpoint]
    ) {
        guard isPrimary else { return ([], []) }
        var revoke: [Int64] = []
        while revoke.count < revokeLimit, let (time, id) = expiries.popDue(now) {
            guard var lease = leases[id], lease.timer == time else { continue }
            lease.revoking = true
            lease.timer = now + revokeRetry
            leases[id] = lease
            expiries.push(now + revokeRetry, id)
            revoke.append(id)
        }
        var checkpoint: [LeaseCheckpoint] = []
        while checkpoint.count < checkpointLimit, let (time, id) = checkpoints.popDue(now) {
            guard var lease = leases[id], lease.checkpointDue == time, let expiry = lease.expiry else { continue }
            lease.checkpointDue = now + checkpointInterval(of: lease)
            checkpoints.push(lease.checkpointDue!, id)
            let remaining = Self.milliseconds(expiry - now)
            let recorded = lease.checkpointed ?? lease.ttlSeconds * 1000
            // Only a smaller remaining time is news; one in flight must apply before the next.
            if !lease.revoking, !lease.checkpointInFlight, !lease.resetInFlight, remaining > 0, remaining < recorded {
                lease.checkpointInFlight = true
                checkpoint.append(LeaseCheckpoint(id: id, remainingMilliseconds: remaining))
            }
            leases[id] = lease
        }
        return (revoke, checkpoint)
    }

    /// A revoke of expired `id` was proposed; true the first time, so the expiry is counted once.
    mutating func expiryProposed(_ id: Int64) -> Bool {
        guard let lease = leases[id], !lease.expiryProposed else { return false }
        leases[id]!.expiryProposed = true
        return true
    }

    /// A proposal of these checkpoints failed: they are not in flight.
    mutating func checkpointsDropped(_ dropped: [LeaseCheckpoint]) {
        for checkpoint in dropped { leases[checkpoint.id]?.checkpointInFlight = false }
    }

    /// A proposal of this revoke failed: try again at the next tick.
    mutating func revokeDropped(_ id: Int64, now: Duration) {
        guard leases[id] != nil else { return }
        leases[id]!.timer = now
        expiries.push(now, id)
    }

    /// How long the oldest due checkpoint has waited (zero when none is due): the bound on a lease's
    /// lifetime across a leader change grows by this much.
    func checkpointLag(now: Duration) -> Duration {
        guard isPrimary, let first = checkpoints.first, first.time < now else { return .zero }
        return now - first.time
    }

    /// Heaps keep stale entries (a renewal pushes a new one); once they outnumber the live ones
    /// twice over, rebuild: memory stays proportional to the number of leases.
    private mutating func compactHeaps() {
        let limit = 2 * leases.count + 1024
        if expiries.count > limit {
            expiries.rebuild(from: leases.compactMap { id, lease in lease.timer.map { ($0, id) } })
        }
        if checkpoints.count > limit {
            checkpoints.rebuild(from: leases.compactMap { id, lease in lease.checkpointDue.map { ($0, id) } })
        }
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// What must hold between steps.
    func check() {
        // O(leases): skipped for big sets, which only benchmarks build.
        guard leases.count <= 10_000 else { return }
        for (id, lease) in leases {
            precondition(id > 0, "lessor: lease id \(id)")
            precondition(isPrimary || (lease.expiry == nil && !lease.revoking && !lease.checkpointInFlight), "lessor: timers on a non-primary")
            precondition(!isPrimary || lease.expiry != nil, "lessor: lease \(id) untimed on the primary")
        }
    }
}
