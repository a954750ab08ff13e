import XCTest
@testable import Raft

/// Leadership transfer (thesis §3.10).
final class TransferTests: XCTestCase {
    /// Thesis §3.10: the target, once up to date, gets TimeoutNow and wins the next term at once,
    /// even though the other followers still hear the old leader (they honour the transfer marker).
    func testTransferToUpToDateFollower_3_10() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        let term = net[1].status.term
        try net[1].transferLeadership(to: NodeID(3))
        net.stabilize()
        XCTAssertEqual(net[3].status.role, .leader)
        XCTAssertEqual(net[3].status.term, term.next)
        XCTAssertEqual(net[1].status.role, .follower)
        XCTAssertEqual(net[1].status.leader, NodeID(3))
        XCTAssertTrue(net.delivered.contains { $0.type == .timeoutNow && $0.to == NodeID(3) })
    }

    /// Thesis §3.10: a lagging target is first brought up to date, then told to campaign; it wins
    /// with every entry the old leader had.
    func testTransferToLaggingFollowerCatchesUpFirst_3_10() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        net.isolate(3)
        for i in 0..<10 { try net.propose(1, [UInt8(i)]) }
        XCTAssertLessThan(net[3].status.lastIndex, net[1].status.lastIndex)
        net.heal()
        try net[1].transferLeadership(to: NodeID(3))
        net.process(NodeID(1))
        XCTAssertFalse(net.inFlight.contains { $0.type == .timeoutNow }, "not before the target caught up")
        net.stabilize()
        XCTAssertEqual(net[3].status.role, .leader)
        XCTAssertEqual(net.host(3).applied.filter { !$0.data.isEmpty }.count, 10)
        let timeoutNowAt = net.delivered.firstIndex { $0.type == .timeoutNow }!
        let lastAppendAt = net.delivered.lastIndex { $0.type == .appendEntries && $0.to == NodeID(3) && $0.term < net[3].status.term }!
        XCTAssertLessThan(lastAppendAt, timeoutNowAt)
    }

    /// Thesis §3.10: while a transfer is in progress the leader refuses proposals (with an error).
    func testProposalsRefusedDuringTransfer_3_10() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        net.isolate(3)
        try net[1].transferLeadership(to: NodeID(3))
        XCTAssertThrowsError(try net[1].propose([1])) { error in
            XCTAssertEqual((error as? RaftError)?.code, .transferInProgress)
        }
        XCTAssertThrowsError(try net[1].proposeConfChange(ConfChange(changes: [ConfChangeSingle(type: .removeNode, node: NodeID(2))])))
    }

    /// Thesis §3.10: a transfer that does not complete within an election timeout is abandoned and
    /// the leader accepts proposals again.
    func testTransferAbortsAfterElectionTimeout_3_10() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        net.isolate(3)
        try net[1].transferLeadership(to: NodeID(3))
        let timeout = net.configs[NodeID(1)]!.electionTimeoutTicks
        net.tick(1, times: timeout - 1)
        XCTAssertEqual(net[1].status.leadTransferee, NodeID(3))
        net.tickAll(times: 1)
        XCTAssertEqual(net[1].status.leadTransferee, .none)
        XCTAssertEqual(net[1].status.role, .leader)
        XCTAssertNoThrow(try net[1].propose([1]))
    }

    /// Only a voter can take over; transfers elsewhere are refused with an error.
    func testTransferToNonVoterRefused_3_10() {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        XCTAssertThrowsError(try net[1].transferLeadership(to: NodeID(9))) { error in
            XCTAssertEqual((error as? RaftError)?.code, .unknownNode)
        }
        XCTAssertThrowsError(try net[2].transferLeadership(to: NodeID(3))) { error in
            XCTAssertEqual((error as? RaftError)?.code, .notLeader)
            XCTAssertEqual((error as? RaftError)?.leader, NodeID(1))
        }
    }
}

extension TransferTests {
    /// Thesis §3.10: a lost TimeoutNow is repeated on the target's next heartbeat answer, so the
    /// transfer still completes within its election timeout.
    func testLostTimeoutNowIsRepeated_3_10() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        try net[1].transferLeadership(to: NodeID(2))
        net.process(NodeID(1))
        XCTAssertEqual(net.inFlight.filter { $0.type == .timeoutNow }.count, 1)
        net.inFlight.removeAll { $0.type == .timeoutNow }  // lost
        net.tickAll(times: 2)
        XCTAssertEqual(net[2].status.role, .leader)
    }
}
