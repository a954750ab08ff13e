import XCTest
@testable import Raft

/// Leader election (§5.2), the election restriction (§5.4.1) and persistent term and vote (Figure 2).
final class ElectionTests: XCTestCase {
    /// §5.2: a follower that hears nothing for an election timeout becomes candidate and, with a
    /// majority of votes, leader; everyone agrees on it.
    func testElectionTimeoutElectsOneLeader_5_2() {
        let net = TestNetwork(ids: [1, 2, 3])
        net.tickAll(times: 25)
        XCTAssertEqual(net.leaders.count, 1)
        let leader = net.leaders[0]
        for id in [1, 2, 3] as [UInt64] {
            XCTAssertEqual(net[id].status.leader, leader, "node \(id)")
            XCTAssertEqual(net[id].status.term, net[leader.rawValue].status.term)
        }
    }

    /// §5.2: election timeouts are drawn at random from [T, 2T) with the injected generator, so they
    /// differ between elections (split votes resolve) yet replay exactly for the same seed.
    func testRandomizedTimeoutInRangeAndSeeded_5_2() {
        var config = RaftConfig(id: NodeID(1))
        config.electionTimeoutTicks = 10
        func timeouts(seed: UInt64) -> [Int] {
            let node = RaftNode(config: config, restored: .bootstrap(voters: [NodeID(1), NodeID(2)]), random: TestRandom(seed: seed))
            var drawn: [Int] = []
            for _ in 0..<50 {
                drawn.append(node.randomizedElectionTimeout)
                node.resetRandomizedElectionTimeout()
            }
            return drawn
        }
        let a = timeouts(seed: 7)
        XCTAssertTrue(a.allSatisfy { (10..<20).contains($0) }, "\(a)")
        XCTAssertGreaterThan(Set(a).count, 5, "timeouts must vary")
        XCTAssertEqual(a, timeouts(seed: 7), "same seed, same timeouts")
        XCTAssertNotEqual(a, timeouts(seed: 8))
    }

    /// A follower campaigns exactly when its randomized timeout has elapsed, not before.
    func testFollowerCampaignsAfterItsRandomizedTimeout_5_2() {
        let net = TestNetwork(ids: [1, 2, 3]) { $0.preVote = false }
        let timeout = net[1].randomizedElectionTimeout
        net.tick(1, times: timeout - 1)
        XCTAssertEqual(net[1].status.role, .follower)
        net.tick(1)
        XCTAssertEqual(net[1].status.role, .candidate)
        XCTAssertEqual(net[1].status.term, Term(2))
        XCTAssertEqual(net[1].status.vote, NodeID(1), "a candidate votes for itself")
    }

    /// Same seeds, same inputs: the same messages in the same order (no Set order leaks).
    func testSameSeedReplaysIdentically() {
        func trace() -> [Message] {
            let net = TestNetwork(ids: [1, 2, 3, 4, 5])
            net.tickAll(times: 30)
            try? net.propose(net.leaders[0].rawValue, [1, 2, 3])
            net.tickAll(times: 5)
            return net.delivered
        }
        let first = trace()
        XCTAssertFalse(first.isEmpty)
        XCTAssertEqual(first, trace())
    }

    /// §5.4.1: a voter denies its vote to a candidate whose log is less up to date than its own
    /// (older last term, or same last term and shorter), which keeps committed entries in every
    /// future leader's log.
    func testVoteDeniedToCandidateWithStaleLog_5_4_1() {
        // Node 3 missed the term-2 entries; nodes 1 and 2 hold them.
        let net = TestNetwork(logs: [1: (2, [2, 2]), 2: (2, [2, 2]), 3: (2, [])]) { $0.preVote = false }
        net[3].campaign()
        net.stabilize()
        XCTAssertNotEqual(net[3].status.role, .leader)
        let answers = net.delivered.filter { $0.type == .requestVoteResponse && $0.to == NodeID(3) }
        XCTAssertEqual(answers.count, 2)
        XCTAssertTrue(answers.allSatisfy(\.reject), "both voters hold newer entries")
        // Same last term but shorter log also loses (§5.4.1 second clause).
        let net2 = TestNetwork(logs: [1: (2, [2, 2]), 2: (2, [2, 2]), 3: (2, [2])]) { $0.preVote = false }
        net2[3].campaign()
        net2.stabilize()
        XCTAssertNotEqual(net2[3].status.role, .leader)
        // A candidate with a newer last term wins even with a shorter log.
        let net3 = TestNetwork(logs: [1: (3, [2, 2]), 2: (3, [2, 2]), 3: (3, [3])]) { $0.preVote = false }
        net3[3].campaign()
        net3.stabilize()
        XCTAssertEqual(net3[3].status.role, .leader)
    }

    /// §5.2: each server votes for at most one candidate per term, first come first served.
    func testAtMostOneVotePerTerm_5_2() {
        let net = TestNetwork(ids: [1, 2, 3]) { $0.preVote = false }
        let request = { (from: UInt64) in
            Message(type: .requestVote, from: NodeID(from), to: NodeID(3), term: Term(5), logTerm: Term(1), index: LogIndex(1))
        }
        net[3].step(request(1))
        net[3].step(request(2))
        let rd = net[3].ready()
        let answers = rd.messages.filter { $0.type == .requestVoteResponse }
        XCTAssertEqual(answers.map(\.to), [NodeID(1), NodeID(2)])
        XCTAssertEqual(answers.map(\.reject), [false, true])
        XCTAssertEqual(rd.hardState, HardState(term: Term(5), vote: NodeID(1), commit: LogIndex(1)),
                       "term and vote go to stable storage before the answer is sent")
    }

    /// Figure 2: term and vote are persistent. A node restarted from its durable state still
    /// remembers whom it voted for and refuses a second candidate in that term.
    func testVoteSurvivesRestart_Figure2() {
        let net = TestNetwork(ids: [1, 2, 3]) { $0.preVote = false }
        net[3].step(Message(type: .requestVote, from: NodeID(1), to: NodeID(3), term: Term(5), logTerm: Term(1), index: LogIndex(1)))
        net.process(NodeID(3))
        XCTAssertEqual(net.host(3).hardState.vote, NodeID(1))
        net.inFlight.removeAll()
        net.restart(3)
        XCTAssertEqual(net[3].status.term, Term(5))
        net[3].step(Message(type: .requestVote, from: NodeID(2), to: NodeID(3), term: Term(5), logTerm: Term(1), index: LogIndex(1)))
        let answer = net[3].ready().messages.first { $0.type == .requestVoteResponse }
        XCTAssertEqual(answer?.reject, true)
    }

    /// §5.1: a leader that sees a higher term steps down to follower.
    func testLeaderStepsDownOnHigherTerm_5_1() {
        let net = TestNetwork(ids: [1, 2, 3]) { $0.checkQuorum = false }
        net.elect(1)
        XCTAssertEqual(net[1].status.role, .leader)
        let term = net[1].status.term
        net[1].step(Message(type: .appendEntriesResponse, from: NodeID(2), to: NodeID(1), term: term.next, index: LogIndex(1)))
        XCTAssertEqual(net[1].status.role, .follower)
        XCTAssertEqual(net[1].status.term, term.next)
    }

    /// §5.2: a candidate that learns of a leader of its own term becomes its follower.
    func testCandidateFollowsLeaderOfSameTerm_5_2() {
        let net = TestNetwork(ids: [1, 2, 3]) { $0.preVote = false }
        net[2].campaign()
        XCTAssertEqual(net[2].status.role, .candidate)
        let term = net[2].status.term
        net[2].step(Message(type: .heartbeat, from: NodeID(1), to: NodeID(2), term: term))
        XCTAssertEqual(net[2].status.role, .follower)
        XCTAssertEqual(net[2].status.leader, NodeID(1))
    }
}

extension ElectionTests {
    /// §5.4.1 Leader Completeness: once an entry is committed, every later leader holds it. Nodes
    /// that missed the entry cannot collect a majority, because the holders refuse them.
    func testNewLeaderHoldsEveryCommittedEntry_5_4_1() throws {
        let net = TestNetwork(ids: [1, 2, 3, 4, 5]) { $0.preVote = false }
        net.elect(1)
        net.isolate(4); net.isolate(5)
        try net.propose(1, [0xC0])
        let committed = net[1].status.commit
        XCTAssertEqual(net[1].log.entries(from: committed, to: committed.advanced(by: 1)).first?.data, [0xC0])
        // The old leader disappears; the two nodes that missed the entry campaign first.
        net.isolate(1)
        net.cut.remove([4, 2]); net.cut.remove([2, 4]); net.cut.remove([4, 3]); net.cut.remove([3, 4])
        net.cut.remove([5, 2]); net.cut.remove([2, 5]); net.cut.remove([5, 3]); net.cut.remove([3, 5])
        net.cut.remove([4, 5]); net.cut.remove([5, 4])
        net[4].campaign()
        net.stabilize()
        XCTAssertNotEqual(net[4].status.role, .leader, "2 and 3 refuse a candidate missing a committed entry")
        net.tickAll(times: 60)
        XCTAssertEqual(net.leaders.count, 1)
        let leader = net[net.leaders[0].rawValue]
        XCTAssertTrue([NodeID(2), NodeID(3)].contains(leader.status.id))
        XCTAssertEqual(leader.log.entries(from: committed, to: committed.advanced(by: 1)).first?.data, [0xC0])
    }
}

extension ElectionTests {
    /// Figure 2 ("Followers"): the election timer restarts only on hearing from the leader or on
    /// granting a vote. A refused candidate of a higher term does not restart it, so a node that
    /// cannot win (stale log, §5.4.1) but times out early cannot keep the others from campaigning.
    func testRefusedCandidateDoesNotRestartElectionTimer_Figure2() {
        let net = TestNetwork(logs: [1: (2, [2, 2]), 2: (2, [2, 2]), 3: (2, [])]) { $0.preVote = false; $0.checkQuorum = false }
        let timeout = net[1].randomizedElectionTimeout
        net.tick(1, times: timeout - 2)
        net[1].step(Message(type: .requestVote, from: NodeID(3), to: NodeID(1), term: Term(7), logTerm: Term(1), index: LogIndex(1)))
        XCTAssertEqual(net[1].status.term, Term(7), "the higher term is adopted")
        XCTAssertEqual(net[1].status.vote, .none, "but the stale candidate is refused")
        XCTAssertEqual(net[1].electionElapsed, timeout - 2, "and the timer keeps running")
        // Granting a vote does restart it.
        net[1].step(Message(type: .requestVote, from: NodeID(2), to: NodeID(1), term: Term(8), logTerm: Term(2), index: LogIndex(3)))
        XCTAssertEqual(net[1].status.vote, NodeID(2))
        XCTAssertEqual(net[1].electionElapsed, 0)
    }
}

extension ElectionTests {
    /// Figure 2 / §5.1: a node answers a stale leader's heartbeat with its own, higher term, and the
    /// leader steps down, even with pre-vote and check-quorum off; otherwise a node whose term ran
    /// ahead but that cannot campaign itself (here a learner) would be stranded forever.
    func testStaleLeaderLearnsHigherTermFromHeartbeatAnswer_5_1() throws {
        let net = TestNetwork(ids: [1, 2, 3]) { $0.preVote = false; $0.checkQuorum = false }
        net.elect(1)
        net.addJoiningNode(4) { $0.preVote = false; $0.checkQuorum = false }
        try net[1].proposeConfChange(ConfChange(changes: [ConfChangeSingle(type: .addLearner, node: NodeID(4))]))
        net.stabilize()
        let term = net[1].status.term
        // The learner's term runs ahead (a refused candidate of a far higher term reached it).
        net[4].step(Message(type: .requestVote, from: NodeID(2), to: NodeID(4), term: Term(50), logTerm: .zero, index: .zero))
        XCTAssertEqual(net[4].status.term, Term(50))
        net.inFlight.removeAll()
        net.tick(1)
        net.stabilize()
        XCTAssertGreaterThanOrEqual(net[1].status.term, Term(50), "the leader learned the learner's term (was \(term))")
        net.tickAll(times: 40)
        XCTAssertEqual(net.leaders.count, 1)
        XCTAssertEqual(net[4].status.leader, net.leaders.first, "the learner follows the new leader")
    }
}
