// Phase two: heal every fault (partitions, loss, duplication, crashes, pauses; no more membership
// changes or transfers) and require a leader and a new write applied on every live voter within
// a bounded number of ticks. Then, with pre-vote and check-quorum, one follower is cut off or
// paused and must not depose the healthy leader when it returns.

import Raft

extension Simulation {
    func livenessPhase(nextGlobalTick start: Int) {
        healed = true
        network.healAll()
        record(.liveness, .none)
        for case let h? in hosts {
            if !h.isUp { h.restartAt = now }
            if h.pausedUntil > now { h.pausedUntil = now }
        }
        var nextGlobalTick = start
        let deadline = start + Self.livenessTicksMax * SimParameters.tickUnits
        while now < deadline {
            step(until: nextGlobalTick)
            if failed { return }
            guard now == nextGlobalTick else { continue }
            nextGlobalTick += SimParameters.tickUnits
            clientSchedule()
            if progressedEverywhere() {
                result.ticksToRecover = (now - start) / SimParameters.tickUnits
                if params.rejoinCheck { rejoinDoesNotDisrupt(nextGlobalTick: nextGlobalTick) }
                return
            }
            proposeMarkerIfNeeded()
        }
        let leader = currentLeader.map { "leader \($0.id) term \($0.node!.status.term) commit \($0.node!.status.commit)" } ?? "no leader"
        let lagging = votersOfLeader().filter { !(host($0)?.appliedMarker ?? false) }.map { id in
            "\(id) applied \(host(id)?.appliedIndex ?? .zero)"
        }.joined(separator: ", ")
        result.violation = Violation(
            .liveness,
            "healed cluster made no progress in \(Self.livenessTicksMax) ticks (\(leader); voters without the new write: [\(lagging)])"
        )
    }

    static var livenessTicksMax: Int { SimOptions.livenessTicksMax }

    /// Nominal ticks a follower stays cut off or paused in the rejoin check, in election timeouts:
    /// long enough to time out, and try to campaign, several times.
    static let rejoinAwayTimeouts = 2...5
    /// Nominal ticks, in election timeouts, the leader must then keep its term.
    static let rejoinWatchTimeouts = 3

    /// Thesis §9.6 and §4.2.3: with pre-vote and check-quorum, a follower that was cut off (or
    /// stalled) and comes back must not depose a leader that kept its quorum meanwhile: it cannot
    /// win a pre-vote while the others hear from that leader, so it never raises its term. Isolates
    /// one follower (both ways, only its outbound side left open, or paused), optionally with no
    /// writes so its log stays as up to date as everyone's (then only the lease check refuses its
    /// pre-votes), lets it back, and requires the same leader in the same term, with no node in a
    /// higher one, for a few election timeouts.
    private func rejoinDoesNotDisrupt(nextGlobalTick start: Int) {
        guard let leader = currentLeader, let leaderNode = leader.node else { return }
        let s = leaderNode.status
        let term = s.term
        let conf = s.confState
        guard runningHosts.allSatisfy({ $0.node!.status.term <= term }) else { return }
        // A follower whose absence leaves a quorum in both halves of the configuration.
        let candidates = conf.voters.union(conf.votersOutgoing).sorted().filter { id in
            guard id != leader.id, let h = host(id), h.isRunning(at: now) else { return false }
            return [conf.voters, conf.votersOutgoing].allSatisfy { half in
                half.isEmpty || half.filter { $0 != id && host($0)?.isRunning(at: now) == true }.count * 2 > half.count
            }
        }
        guard !candidates.isEmpty else { return }
        let away = candidates[random.below(candidates.count)]
        let E = params.electionTimeoutTicks
        let units = SimParameters.tickUnits
        let quiet = random.chance(permille: 500)
        let mode = random.below(3)  // 0: cut both ways, 1: it can send but not receive, 2: paused
        let awayTicks = E * random.between(Self.rejoinAwayTimeouts)
        record(.rejoinCheck, away, UInt64(mode), UInt64(awayTicks), quiet ? 1 : 0)
        if mode == 2 {
            host(away)!.pausedUntil = now + awayTicks * units
        } else {
            for other in hosts.compactMap({ $0?.id }) where other != away {
                network.setCut(from: other, to: away, true)
                if mode == 0 { network.setCut(from: away, to: other, true) }
            }
        }
        var nextGlobalTick = start
        let healAt = now + awayTicks * units
        let end = healAt + Self.rejoinWatchTimeouts * E * units
        var healedAgain = false
        while now < end {
            step(until: nextGlobalTick)
            if failed { return }
            guard now == nextGlobalTick else { continue }
            nextGlobalTick += units
            if !healedAgain && now >= healAt {
                network.healAll()
                healedAgain = true
                record(.heal, .none)
            }
            if !(quiet && !healedAgain) { clientSchedule() }
            let top = runningHosts.map { $0.node!.status.term }.max() ?? term
            let stillLeads = leader.node?.status.role == .leader && leader.node?.status.term == term
            if top != term || !stillLeads {
                result.violation = Violation(
                    .liveness,
                    "leader \(leader.id) of term \(term) lost its leadership (highest term now \(top)) when \(away) came back "
                        + "from \(["a partition", "a one-way partition", "a pause"][mode]) of \(awayTicks) ticks"
                )
                return
            }
        }
    }

    private func votersOfLeader() -> [NodeID] {
        guard let s = currentLeader?.node?.status else { return [] }
        return s.confState.voters.union(s.confState.votersOutgoing).sorted()
    }

    private func progressedEverywhere() -> Bool {
        guard currentLeader != nil else { return false }
        let voters = votersOfLeader()
        return !voters.isEmpty && voters.allSatisfy { host($0)?.appliedMarker ?? false }
    }

    /// A fresh marker per leader term: a marker of a deposed leader may never commit.
    private func proposeMarkerIfNeeded() {
        guard let leader = currentLeader, let node = leader.node else { return }
        let term = node.status.term
        guard term != markerTerm else { return }
        do {
            try node.propose(SimStateMachine.encodeValue(nextMarker))
        } catch {
            return
        }
        record(.propose, leader.id, nextMarker)
        nextMarker += 1
        markerTerm = term
        pump(leader)
    }
}
