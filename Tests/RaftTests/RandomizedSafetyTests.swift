import Foundation
import XCTest
@testable import Raft

/// Figure 3's safety properties under random loss, duplication, reordering, partitions, crashes,
/// transfers, membership changes and compaction. A small smoke run: the seeded simulator
/// (RaftSimulation) is the thorough one; this one guards the core's own test suite.
final class RandomizedSafetyTests: XCTestCase {
    func testFigure3SafetyUnderRandomFaults() throws {
        // RAFT_TEST_SEEDS=n runs more seeds for a local soak.
        let seeds = UInt64(ProcessInfo.processInfo.environment["RAFT_TEST_SEEDS"] ?? "") ?? 60
        for seed in 1...seeds {
            try runSeed(seed)
        }
    }

    private func runSeed(_ seed: UInt64) throws {
        var rng = TestRandom(seed: seed &* 7919)
        let size = 3 + Int(seed % 3)
        let ids = (1...size).map { UInt64($0) }
        let lease = seed % 2 == 0
        let net = TestNetwork(ids: ids) { config in
            config.electionTimeoutTicks = 8
            config.preVote = seed % 3 != 0
            config.checkQuorum = lease || seed % 5 != 0
            config.readOnlyMode = lease ? .leaseBased : .readIndex
            config.inflightMessagesMax = 4
            config.proposalBatchMaxEntries = 3
        }
        var leaderOfTerm: [Term: NodeID] = [:]
        var proposed = 0
        for step in 0..<3000 {
            let roll = Int.random(in: 0..<100, using: &rng)
            switch roll {
            case 0..<40:
                if !net.inFlight.isEmpty {
                    let i = Int.random(in: 0..<net.inFlight.count, using: &rng)
                    let m = net.inFlight.remove(at: i)
                    if Int.random(in: 0..<20, using: &rng) == 0 { net.inFlight.append(m) }  // duplicate
                    if Int.random(in: 0..<10, using: &rng) != 0, !net.cut.contains([m.from.rawValue, m.to.rawValue]),
                       let node = net.nodes[m.to] {
                        node.step(m)
                        net.process(m.to)
                    }
                }
            case 40..<60:
                let id = ids[Int.random(in: 0..<size, using: &rng)]
                net.tick(id)
            case 60..<75:
                if let leader = net.leaders.last {
                    proposed += 1
                    try? net[leader.rawValue].propose([UInt8(truncatingIfNeeded: proposed), UInt8(truncatingIfNeeded: seed)])
                    net.process(leader)
                }
            case 75..<77:
                net.cut = []
                if Int.random(in: 0..<2, using: &rng) == 0 { net.isolate(ids[Int.random(in: 0..<size, using: &rng)]) }
            case 77:
                let id = ids[Int.random(in: 0..<size, using: &rng)]
                net.restart(id)
            case 78:
                if let leader = net.leaders.last {
                    let target = ids[Int.random(in: 0..<size, using: &rng)]
                    try? net[leader.rawValue].transferLeadership(to: NodeID(target))
                    net.process(leader)
                }
            case 79:
                if let leader = net.leaders.last {
                    let node = NodeID(ids[Int.random(in: 0..<size, using: &rng)])
                    let conf = net[leader.rawValue].status.confState
                    let type: ConfChangeType = conf.learners.contains(node) ? .addVoter : (conf.voters.count > 2 ? .addLearner : .addVoter)
                    try? net[leader.rawValue].proposeConfChange(ConfChange(changes: [ConfChangeSingle(type: type, node: node)]))
                    net.process(leader)
                }
            case 80..<82:
                let id = NodeID(ids[Int.random(in: 0..<size, using: &rng)])
                let node = net.nodes[id]!
                let applied = node.status.applied
                if applied > node.log.firstIndex {
                    node.compact(upTo: applied, snapshotData: [UInt8(truncatingIfNeeded: applied.rawValue)])
                    var host = net.hosts[id]!
                    host.snapshot = Snapshot(metadata: node.log.snapshot, data: [UInt8(truncatingIfNeeded: applied.rawValue)])
                    host.entries.removeAll { $0.index <= applied }
                    net.hosts[id] = host
                }
            default:
                if let leader = net.leaders.last {
                    try? net[leader.rawValue].readIndex(context: [UInt8(truncatingIfNeeded: step)])
                    net.process(leader)
                }
            }
            // Election Safety: at most one leader per term.
            for id in net.leaders {
                let term = net.nodes[id]!.status.term
                if let other = leaderOfTerm[term] {
                    XCTAssertEqual(other, id, "seed \(seed) step \(step): two leaders in term \(term)")
                } else {
                    leaderOfTerm[term] = id
                }
            }
            // State Machine Safety: no two nodes apply different entries at one index.
            var appliedAt: [LogIndex: Entry] = [:]
            for id in net.nodes.keys.sorted() {
                for e in net.hosts[id]!.applied {
                    if let other = appliedAt[e.index] {
                        XCTAssertEqual(other, e, "seed \(seed) step \(step): nodes applied different entries at \(e.index)")
                    } else {
                        appliedAt[e.index] = e
                    }
                }
            }
        }
        // Log Matching (§5.3): where two logs hold an entry with the same index and term, they hold
        // the same entries up to it.
        let all = net.nodes.keys.sorted()
        for a in all {
            for b in all where a < b {
                let la = net.nodes[a]!.log
                let lb = net.nodes[b]!.log
                let lo = max(la.firstIndex, lb.firstIndex)
                var i = min(la.lastIndex, lb.lastIndex)
                while i >= lo, la.term(at: i) != lb.term(at: i) { i = i.advanced(by: -1) }
                guard i >= lo else { continue }
                XCTAssertEqual(la.entries(from: lo, to: i.advanced(by: 1)), lb.entries(from: lo, to: i.advanced(by: 1)),
                               "seed \(seed): logs of \(a) and \(b) match at \(i) but differ before it")
            }
        }
        // Liveness after healing: a leader emerges and commits a new entry.
        net.cut = []
        // Elections can split a few times in a row (two voters with equal timeouts): allow many.
        net.tickAll(times: 300)
        XCTAssertGreaterThanOrEqual(net.leaders.count, 1, "seed \(seed): no leader after healing")
        if let leader = net.leaders.last {
            let before = net[leader.rawValue].status.commit
            try? net.propose(leader.rawValue, [0xFF])
            net.tickAll(times: 5)
            XCTAssertGreaterThan(net[leader.rawValue].status.commit, before, "seed \(seed): no progress after healing")
        }
    }
}
