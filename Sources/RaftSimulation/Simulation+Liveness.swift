// Phase two: heal every fault (partitions, loss, duplication, crashes, pauses; no more membership
// changes or transfers) and require a leader and a new write applied on every live voter within
// a bounded number of ticks.

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
