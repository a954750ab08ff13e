/// The lease checks, lease by lease (see ``LeaseChecker``).
struct LeaseAnalysis {
    let history: LeaseHistory
    let bound: LeaseChecker.Bound
    var violations: [LeaseViolation] = []
    var checkedAbsences = 0
    var checkedPresences = 0
    var expiriesSeen = 0
    /// Seconds from a lease's last possible renewal plus its TTL to the first read that found it gone.
    var expiryDelays: [Double] = []
    /// The smallest margin (store-clock seconds) by which an absence came after the lease was due.
    var closestEarlyMargin: Double?

    init(history: LeaseHistory, bound: LeaseChecker.Bound) {
        self.history = history
        self.bound = bound
    }

    mutating func run() {
        for id in history.leases.keys.sorted() {
            check(history.leases[id]!)
        }
    }

    private mutating func check(_ lease: LeaseHistory.Lease) {
        let granted = lease.grants.contains { $0.operation.outcome != .fail }
        for sighting in lease.sightings where sighting.present {
            if let keys = sighting.keys, keys != bound.keysPerLease {
                violations.append(
                    LeaseViolation(
                        kind: .split, lease: lease.id, operationID: sighting.step.operation.id, causeOperationID: nil,
                        detail: "found \(keys) of the lease's \(bound.keysPerLease) keys: they were not written or deleted together"))
            }
            if !granted {
                violations.append(
                    LeaseViolation(
                        kind: .neverGranted, lease: lease.id, operationID: sighting.step.operation.id, causeOperationID: nil,
                        detail: "keys of a lease that no grant could have created"))
            }
        }
        guard lease.ttl > 0 else { return }
        checkRevokes(lease)
        checkEarly(lease)
        checkLate(lease)
    }

    /// Nothing of a lease is seen by a read that began after its revoke was acknowledged.
    private mutating func checkRevokes(_ lease: LeaseHistory.Lease) {
        guard let revoke = lease.revokes.filter({ $0.operation.outcome == .ok }).min(by: { $0.completed < $1.completed })
        else { return }
        let revoked = revoke.completed
        for sighting in lease.sightings where sighting.present && sighting.step.invoked > revoked {
            violations.append(
                LeaseViolation(
                    kind: .outlivedRevoke, lease: lease.id, operationID: sighting.step.operation.id,
                    causeOperationID: revoke.operation.id,
                    detail: String(format: "still there %.3f s after its revoke was acknowledged", sighting.step.invoked - revoked)))
        }
    }

    /// A lease (or its keys, once known written) is not found gone before the TTL has run out since
    /// an acknowledged renewal, as measured by the fastest a store clock could have run.
    private mutating func checkEarly(_ lease: LeaseHistory.Lease) {
        let renewals =
            lease.grants.filter { $0.operation.outcome == .ok }
            + lease.keepalives.filter { $0.step.operation.outcome == .ok && ($0.ttl ?? 0) > 0 }.map(\.step)
        let firstRevokeInvoked = lease.revokes.map(\.invoked).min() ?? .infinity
        // The keys are known written from the put's acknowledgement or the first read that found them.
        let keysKnown = min(
            lease.puts.filter { $0.operation.outcome == .ok }.map(\.completed).min() ?? .infinity,
            lease.sightings.filter { $0.present && $0.keys != nil }.map(\.step.completed).min() ?? .infinity)
        for sighting in lease.sightings where !sighting.present && sighting.step.completed < firstRevokeInvoked {
            // A read that began before the keys were known to exist may have come before them.
            if sighting.keys != nil && sighting.step.invoked < keysKnown { continue }
            guard let renewal = renewals.filter({ $0.invoked < sighting.step.completed }).max(by: { $0.invoked < $1.invoked })
            else { continue }
            checkedAbsences += 1
            let storeElapsed = fastestElapsed(from: renewal.invoked, to: sighting.step.completed)
            let margin = storeElapsed - lease.ttl
            closestEarlyMargin = min(closestEarlyMargin ?? margin, margin)
            if margin < 0 {
                violations.append(
                    LeaseViolation(
                        kind: .early, lease: lease.id, operationID: sighting.step.operation.id, causeOperationID: renewal.operation.id,
                        detail: String(
                            format: "gone %.3f s after a renewal of a %.0f s lease (a store clock could have counted %.3f s)",
                            sighting.step.completed - renewal.invoked, lease.ttl, storeElapsed)))
            }
        }
    }

    /// A lease's keys are not found by a read that began later than the bound after the last moment
    /// a renewal could have reached the store.
    private mutating func checkLate(_ lease: LeaseHistory.Lease) {
        let attempts =
            lease.grants.filter { $0.operation.outcome != .fail }
            + lease.keepalives.filter { $0.step.operation.outcome == .info || ($0.ttl ?? 0) > 0 }.map(\.step)
        guard let lastRenewal = attempts.map(\.completed).max(), lastRenewal.isFinite else { return }
        var firstAbsence: Double?
        for sighting in lease.sightings where sighting.step.invoked > lastRenewal {
            if !sighting.present {
                firstAbsence = min(firstAbsence ?? sighting.step.completed, sighting.step.completed)
                continue
            }
            guard sighting.keys != nil else { continue }
            checkedPresences += 1
            let counted = slowestCountedElapsed(from: lastRenewal, to: sighting.step.invoked)
            let changes = leaderChanges(from: lastRenewal, to: sighting.step.completed)
            let slack =
                bound.electionTimeoutSeconds + bound.allowanceSeconds
                + Double(changes) * (bound.checkpointPeriod(ttl: lease.ttl) + bound.electionTimeoutSeconds)
            if counted > lease.ttl + slack {
                violations.append(
                    LeaseViolation(
                        kind: .late, lease: lease.id, operationID: sighting.step.operation.id, causeOperationID: nil,
                        detail: String(
                            format: "still there %.3f s after the last renewal could have reached the store; %.3f s of it count "
                                + "towards a bound of %.0f s TTL + %.1f s (%d leader changes)",
                            sighting.step.invoked - lastRenewal, counted, lease.ttl, slack, changes)))
            }
        }
        if let firstAbsence, lease.revokes.allSatisfy({ $0.invoked > firstAbsence }) {
            expiriesSeen += 1
            expiryDelays.append(firstAbsence - lastRenewal - lease.ttl)
        }
    }

    /// How many times the term went up between two history times, as keepalive answers show it; one
    /// when the history carries no terms.
    func leaderChanges(from start: Double, to end: Double) -> Int {
        let terms = history.answeredTerms
        guard !terms.isEmpty else { return 1 }
        let before = terms.lazy.filter { $0.time <= start }.map(\.term).max()
        let within = terms.lazy.filter { $0.time > start && $0.time <= end }.map(\.term)
        guard let highest = within.max() else { return 0 }
        return max(0, highest - (before ?? within.min()!))
    }

    /// An upper bound on how much a store clock counted between two history times.
    func fastestElapsed(from start: Double, to end: Double) -> Double {
        var elapsed = end - start
        for fault in bound.clockFaults where fault.start < end && fault.end > start {
            let overlap = min(fault.end, end) - max(fault.start, start)
            elapsed += (fault.changesRates ? overlap * (bound.clockRateMax - 1) : 0) + fault.forwardSeconds
        }
        return elapsed
    }

    /// A lower bound on how much of the time between two history times counts towards the lease bound:
    /// gaps without an acknowledged write (no leader able to expire leases) do not count, and a slow store
    /// clock counts less.
    func slowestCountedElapsed(from start: Double, to end: Double) -> Double {
        var counted = end - start - quietTime(from: start, to: end)
        for fault in bound.clockFaults where fault.changesRates && fault.start < end && fault.end > start {
            counted -= (min(fault.end, end) - max(fault.start, start)) * (1 - bound.clockRateMin)
        }
        return counted
    }

    /// Time in `start...end` between acknowledged writes, beyond ``LeaseChecker/Bound/quietGapSeconds`` per gap.
    func quietTime(from start: Double, to end: Double) -> Double {
        let writes = history.acknowledgedWrites
        // The first acknowledged write after `start` (binary search: the list is sorted).
        var low = 0
        var high = writes.count
        while low < high {
            let middle = (low + high) / 2
            if writes[middle] <= start { low = middle + 1 } else { high = middle }
        }
        var quiet = 0.0
        var previous = start
        var index = low
        while index < writes.count && writes[index] < end {
            quiet += max(0, writes[index] - previous - bound.quietGapSeconds)
            previous = writes[index]
            index += 1
        }
        quiet += max(0, end - previous - bound.quietGapSeconds)
        return quiet
    }

    func result() -> LeaseCheckResult {
        let verdict: Verdict =
            !violations.isEmpty ? .invalid : (checkedAbsences == 0 && expiriesSeen == 0 ? .unknown : .valid)
        let delays = expiryDelays.sorted()
        return LeaseCheckResult(
            verdict: verdict, leaseCount: history.leases.count,
            grantedCount: history.leases.values.filter { $0.grants.contains { $0.operation.outcome == .ok } }.count,
            expiriesSeen: expiriesSeen, checkedAbsences: checkedAbsences, checkedPresences: checkedPresences,
            expiryDelayMedian: delays.isEmpty ? nil : delays[delays.count / 2], expiryDelayMax: delays.last,
            closestEarlyMargin: closestEarlyMargin, violations: violations)
    }
}
