import XCTest
@testable import Raft

/// Pre-vote (thesis §9.6), check-quorum (thesis §6.2) and leader stickiness (thesis §4.2.3).
final class PreVoteCheckQuorumTests: XCTestCase {
    /// Thesis §9.6: a partitioned node keeps failing pre-elections, so its term does not grow, and
    /// when it rejoins it does not depose the healthy leader.
    func testPartitionedNodeDoesNotRaiseTermWithPreVote_9_6() {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        let term = net[1].status.term
        net.isolate(3)
        net.tickAll(times: 100)
        XCTAssertEqual(net[3].status.term, term, "pre-vote keeps the term")
        XCTAssertNotEqual(net[3].status.role, .candidate)
        net.heal()
        net.tickAll(times: 20)
        XCTAssertEqual(net[1].status.role, .leader, "the healthy leader stays")
        XCTAssertEqual(net[1].status.term, term)
        XCTAssertEqual(net[3].status.leader, NodeID(1))
    }

    /// The contrast: without pre-vote (and without check-quorum) the partitioned node's term
    /// grows and on rejoining it deposes the leader; this is the disruption §9.6 prevents.
    func testWithoutPreVoteRejoiningNodeDisrupts_9_6() {
        let net = TestNetwork(ids: [1, 2, 3]) { $0.preVote = false; $0.checkQuorum = false }
        net.elect(1)
        let term = net[1].status.term
        net.isolate(3)
        net.tickAll(times: 100)
        XCTAssertGreaterThan(net[3].status.term, term)
        net.heal()
        net.tickAll(times: 30)
        XCTAssertGreaterThan(net[1].status.term, term, "the rejoining node's election forced a new term")
    }

    /// Thesis §9.6: a pre-vote changes nothing at the voter: no term change, no vote recorded.
    func testPreVoteRequestChangesNoState_9_6() {
        let net = TestNetwork(ids: [1, 2, 3])
        let before = net[2].status
        net[2].step(Message(type: .preVote, from: NodeID(3), to: NodeID(2), term: Term(9), logTerm: Term(1), index: LogIndex(1)))
        let rd = net[2].ready()
        XCTAssertNil(rd.hardState)
        XCTAssertEqual(net[2].status.term, before.term)
        XCTAssertEqual(net[2].status.vote, .none)
        XCTAssertEqual(rd.messages.first?.type, .preVoteResponse)
        XCTAssertEqual(rd.messages.first?.reject, false)
        XCTAssertEqual(rd.messages.first?.term, Term(9))
    }

    /// Thesis §6.2: a leader that does not hear from a quorum for an election timeout steps down.
    func testCheckQuorumLeaderStepsDown_6_2() {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        net.isolate(1)
        let timeout = net.configs[NodeID(1)]!.electionTimeoutTicks
        net.tick(1, times: timeout - 1)
        XCTAssertEqual(net[1].status.role, .leader, "one election timeout not yet over")
        net.tick(1, times: timeout + 1)
        XCTAssertEqual(net[1].status.role, .follower)
        XCTAssertEqual(net[1].status.leader, .none)
    }

    /// Without check-quorum the isolated leader keeps believing it leads (the contrast).
    func testWithoutCheckQuorumIsolatedLeaderStays_6_2() {
        let net = TestNetwork(ids: [1, 2, 3]) { $0.checkQuorum = false }
        net.elect(1)
        net.isolate(1)
        net.tick(1, times: 50)
        XCTAssertEqual(net[1].status.role, .leader)
    }

    /// Thesis §4.2.3 / §9.6: a follower that heard from its leader within the election timeout
    /// ignores vote requests, even of a higher term, and keeps its term.
    func testFollowerInLeaseIgnoresVoteRequests_4_2_3() {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        let term = net[2].status.term
        let vote = net[2].status.vote
        net[2].step(Message(type: .requestVote, from: NodeID(3), to: NodeID(2), term: term.next.next, logTerm: term, index: LogIndex(100)))
        XCTAssertEqual(net[2].status.term, term)
        XCTAssertEqual(net[2].status.vote, vote)
        XCTAssertTrue(net[2].ready().messages.isEmpty, "no answer at all")
        // Once an election timeout passes without the leader, it votes again.
        net.isolate(1)
        net.tick(2, times: net.configs[NodeID(2)]!.electionTimeoutTicks)
        net[2].step(Message(type: .requestVote, from: NodeID(3), to: NodeID(2), term: term.next.next, logTerm: term, index: LogIndex(100)))
        XCTAssertEqual(net[2].status.term, term.next.next)
        XCTAssertEqual(net[2].status.vote, NodeID(3))
    }

    /// Thesis §9.6: with pre-vote a node that cannot win does not even start a real election,
    /// while a node that can win proceeds to a real election and wins.
    func testPreVoteThenRealElection_9_6() {
        let net = TestNetwork(ids: [1, 2, 3])
        net[1].campaign()
        XCTAssertEqual(net[1].status.role, .preCandidate)
        XCTAssertEqual(net[1].status.term, Term(1), "pre-candidate keeps its term")
        net.stabilize()
        XCTAssertEqual(net[1].status.role, .leader)
        XCTAssertEqual(net[1].status.term, Term(2))
        let types = net.delivered.map(\.type)
        XCTAssertLessThan(types.firstIndex(of: .preVote)!, types.firstIndex(of: .requestVote)!)
    }
}
