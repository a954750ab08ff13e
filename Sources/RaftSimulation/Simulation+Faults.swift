// The fault schedule, drawn once per nominal tick: crashes, pauses, slow inbound links, partitions
// (halves, one-way, isolate the leader, bridge, isolate one, the leader with a minority), heals,
// membership changes and leadership transfers. A partition that cuts the leader off, and a
// transfer, steer reads to the old leader for a while (and may slow what it hears).

import Raft

extension Simulation {
    /// Crash downtime and pause length, in nominal ticks.
    static let downTicksMax = 40
    static let pauseTicksMax = 30
    /// A partition holds for at least this range of nominal ticks before it heals or changes, so
    /// that elections (and lease expiry) can happen inside it.
    static let partitionTicksMin = 15...50
    /// How long a node's inbound link stays slow, in nominal ticks.
    static let slowInboundTicks = 5...40

    func faultSchedule() {
        let E = params.electionTimeoutTicks
        let units = SimParameters.tickUnits
        if random.chance(permille: params.crashPermille), let h = pickUpHost() {
            h.crash()
            h.restartAt = now + units * random.between(1...Self.downTicksMax)
            record(.crash, h.id)
            result.crashes += 1
        }
        if random.chance(permille: params.pausePermille), let h = pickUpHost() {
            let length = units * random.between(1...Self.pauseTicksMax) + random.below(units)
            h.pausedUntil = max(h.pausedUntil, now + length)
            record(.pause, h.id, UInt64(length))
        }
        if random.chance(permille: params.slowInboundPermille), let h = pickUpHost() {
            slowInboundUntil[Int(h.id.rawValue)] = now + units * random.between(Self.slowInboundTicks)
        }
        let partitionHeld = now < partitionHeldUntil
        if network.hasPartition && !partitionHeld && random.chance(permille: params.healPermille) {
            network.healAll()
            record(.heal, .none)
        }
        if !partitionHeld && random.chance(permille: params.partitionPermille) {
            partition()
            partitionHeldUntil = now + units * random.between(Self.partitionTicksMin)
        }
        if random.chance(permille: params.confChangePermille) { changeMembership() }
        if random.chance(permille: params.transferPermille), let leader = currentLeader, let node = leader.node {
            let voters = node.status.confState.voters.sorted().filter { $0 != leader.id }
            if !voters.isEmpty {
                let target = voters[random.below(voters.count)]
                record(.transfer, leader.id, target.rawValue)
                try? node.transferLeadership(to: target)
                if params.oldLeaderReadTicks > 0 {
                    oldLeaderReads = (leader.id, now + units * params.oldLeaderReadTicks)
                    // The old leader hears of the new term late: its lease is all that stands
                    // between its reads and the new leader's writes.
                    if random.chance(permille: 500) {
                        slowInboundUntil[Int(leader.id.rawValue)] = now + units * random.between(1...E)
                    }
                }
                pump(leader)
            }
        }
    }

    private func pickUpHost() -> SimHost? {
        let up = hosts.compactMap { $0 }.filter { $0.isUp }
        return up.isEmpty ? nil : up[random.below(up.count)]
    }

    private func partition() {
        network.healAll()
        var ids = hosts.compactMap { $0?.id }
        // Fisher-Yates with the seeded generator.
        if ids.count > 1 {
            for i in stride(from: ids.count - 1, to: 0, by: -1) { ids.swapAt(i, random.below(i + 1)) }
        }
        guard ids.count >= 2 else { return }
        var kind = random.below(6)
        var sideA: [NodeID] = []
        var bridge: [NodeID] = []
        switch kind {
        case 2:
            if let leader = currentLeader { sideA = [leader.id] } else { sideA = [ids[0]]; kind = 4 }
        case 3 where ids.count >= 3:
            bridge = [ids[0]]
            let rest = Array(ids.dropFirst())
            sideA = Array(rest.prefix(1 + random.below(rest.count - 1)))
        case 4:
            sideA = [ids[0]]
        case 5:
            // The leader and a minority of followers: they keep its uncommitted entries (§5.3).
            if let leader = currentLeader {
                let others = ids.filter { $0 != leader.id }
                sideA = [leader.id] + others.prefix(random.below(max(1, (ids.count - 1) / 2)))
            } else {
                sideA = [ids[0]]
                kind = 4
            }
        default:
            if kind == 3 { kind = 0 }
            sideA = Array(ids.prefix(1 + random.below(ids.count - 1)))
        }
        let all = hosts.compactMap { $0?.id }
        for a in sideA {
            for b in all where !sideA.contains(b) && !bridge.contains(b) && a != b {
                network.setCut(from: a, to: b, true)
                if kind != 1 { network.setCut(from: b, to: a, true) }
            }
        }
        var maskA: UInt64 = 0
        var maskB: UInt64 = 0
        for a in sideA { maskA |= 1 << a.rawValue }
        for b in bridge { maskB |= 1 << b.rawValue }
        record(.partition, .none, UInt64(kind), maskA, maskB)
        result.partitions += 1
        if let leader = currentLeader, sideA.contains(leader.id), kind != 3 {
            // The leader is cut off (kind 1: it can no longer reach the others, who still reach it).
            if kind == 2 || kind == 5 { proposeUnobserved(on: leader, count: params.divergentBurstEntries) }
            if params.oldLeaderReadTicks > 0 {
                oldLeaderReads = (leader.id, now + SimParameters.tickUnits * params.oldLeaderReadTicks)
            }
        }
    }

    /// Proposes a random membership change on the leader: add a learner (starting its host),
    /// promote a learner, remove a node, or a joint change adding one voter and removing another.
    private func changeMembership() {
        guard let leader = currentLeader, let node = leader.node else { return }
        let conf = node.status.confState
        let voters = conf.voters.sorted()
        let learners = conf.learners.sorted()
        let fresh = (1..<hosts.count).map { NodeID(UInt64($0)) }.filter { hosts[Int($0.rawValue)] == nil }
        var steps: [ConfChangeSingle] = []
        switch random.below(4) {
        case 0:
            guard let id = fresh.first else { return }
            steps = [ConfChangeSingle(type: random.chance(permille: 700) ? .addLearner : .addVoter, node: id)]
        case 1:
            guard !learners.isEmpty else { return }
            steps = [ConfChangeSingle(type: .addVoter, node: learners[random.below(learners.count)])]
        case 2:
            if voters.count > 3 {
                steps = [ConfChangeSingle(type: .removeNode, node: voters[random.below(voters.count)])]
            } else if !learners.isEmpty {
                steps = [ConfChangeSingle(type: .removeNode, node: learners[random.below(learners.count)])]
            } else {
                return
            }
        default:
            let incoming = learners + fresh.prefix(1)
            guard !incoming.isEmpty, voters.count >= 3 else { return }
            steps = [
                ConfChangeSingle(type: .addVoter, node: incoming[random.below(incoming.count)]),
                ConfChangeSingle(type: .removeNode, node: voters[random.below(voters.count)]),
            ]
        }
        for s in steps where hosts[Int(s.node.rawValue)] == nil {
            startHost(s.node, durable: DurableState(hardState: .initial, snapshot: nil))
        }
        record(.confChange, leader.id, ConfSummary.encode(steps.map { ($0.type.rawValue, $0.node.rawValue) }))
        try? node.proposeConfChange(ConfChange(changes: steps))
        pump(leader)
    }
}
