import XCTest
@testable import Raft

/// Commitment (§5.4.2, Figure 8): only entries of the leader's current term commit by counting
/// replicas; a no-op on election commits what came before.
final class CommitTests: XCTestCase {
    /// §5.4.2: a new leader appends an empty entry of its term; committing it commits every earlier entry.
    func testNoOpAppendedOnElection_5_4_2() {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(2)
        let leader = net[2]
        let last = leader.log.entries(from: leader.log.lastIndex, to: leader.log.lastIndex.advanced(by: 1))
        XCTAssertEqual(last.count, 1)
        XCTAssertEqual(last.first?.term, leader.status.term)
        XCTAssertEqual(last.first?.data, [])
        XCTAssertEqual(leader.status.commit, leader.status.lastIndex)
    }

    /// Figure 8: an entry from an earlier term stored on a majority is NOT committed by counting;
    /// it commits only once an entry of the current term does.
    func testOlderTermEntryNotCommittedByCounting_Figure8() {
        // Index 2 holds a term-2 entry on node 1 only; node 5 holds a term-3 entry at index 2 (it
        // could still become leader and overwrite index 2, which is why counting is not enough).
        let staged = TestNetwork(logs: [1: (3, [2]), 2: (3, []), 3: (3, []), 4: (3, []), 5: (3, [3])]) {
            $0.proposalBatchMaxEntries = 1
        }
        staged.isolate(5)
        staged[1].campaign()
        // Hold back every append that would put the term-4 no-op into a follower's log (appends the
        // follower rejects are delivered: they make the leader backtrack to index 2).
        let wouldAcceptNoOp: (Message) -> Bool = { m in
            m.type == .appendEntries && m.entries.contains { $0.term == Term(4) }
                && staged[m.to.rawValue].log.term(at: m.index) == m.logTerm
        }
        staged.processAll()
        while staged.deliverOne(filter: { !wouldAcceptNoOp($0) }) {}
        XCTAssertEqual(staged[1].status.role, .leader)
        // Nodes 1-4 now hold the term-2 entry at index 2: a majority of five.
        let holders = [1, 2, 3, 4].filter { staged[UInt64($0)].log.term(at: LogIndex(2)) == Term(2) }
        XCTAssertGreaterThanOrEqual(holders.count, 3)
        XCTAssertEqual(staged[1].tracker.committed(), LogIndex(2), "a quorum matches index 2")
        XCTAssertEqual(staged[1].status.commit, LogIndex(1), "§5.4.2: but it is not committed by counting")
        // Once the term-4 no-op reaches a majority, both commit.
        staged.stabilize()
        XCTAssertEqual(staged[1].status.commit, LogIndex(3))
        XCTAssertEqual(staged.host(2).applied.map(\.term), [Term(2), Term(4)])
    }

    /// §5.4.2 with an unresponsive majority: the leader never commits without a quorum.
    func testNoCommitWithoutQuorum_5_3() throws {
        let net = TestNetwork(ids: [1, 2, 3, 4, 5]) { $0.checkQuorum = false }
        net.elect(1)
        let commit = net[1].status.commit
        net.isolate(3); net.isolate(4); net.isolate(5)
        try net.propose(1, [7])
        net.tickAll(times: 5)
        XCTAssertEqual(net[1].status.commit, commit, "two of five is no quorum")
        net.heal()
        net.tickAll(times: 3)
        XCTAssertEqual(net[1].status.commit, commit.advanced(by: 1))
    }
}
