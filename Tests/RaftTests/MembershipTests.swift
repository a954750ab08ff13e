import XCTest
@testable import Raft

/// Membership changes (thesis §4): simple changes, joint consensus (§4.3), learners (§4.2.1),
/// and removed servers that must not disrupt the cluster (§4.2.3).
final class MembershipTests: XCTestCase {
    private func ids(_ raws: [UInt64]) -> Set<NodeID> { Set(raws.map(NodeID.init)) }
    private func change(_ steps: [(ConfChangeType, UInt64)], autoLeave: Bool = true) -> ConfChange {
        ConfChange(changes: steps.map { ConfChangeSingle(type: $0.0, node: NodeID($0.1)) }, autoLeave: autoLeave)
    }

    /// Thesis §4.1: a single-server addition; the new node learns the configuration (and the log
    /// before it joined) from a snapshot, then counts towards the quorum.
    func testAddVoter_4_1() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        net.addJoiningNode(4)
        try net[1].proposeConfChange(change([(.addVoter, 4)]))
        net.stabilize()
        net.tickAll(times: 3)
        for id in [1, 2, 3, 4] as [UInt64] {
            XCTAssertEqual(net[id].status.confState.voters, ids([1, 2, 3, 4]), "node \(id)")
        }
        XCTAssertTrue(net.delivered.contains { $0.type == .installSnapshot && $0.to == NodeID(4) })
        XCTAssertEqual(net[4].status.commit, net[1].status.commit)
        // Four voters need three: the leader and the new node alone cannot commit.
        net.isolate(2); net.isolate(3)
        let commit = net[1].status.commit
        try net.propose(1, [1])
        XCTAssertEqual(net[1].status.commit, commit)
    }

    /// Thesis §4.3: in the joint configuration every decision needs a majority of the old AND the
    /// new voters; after leaving it only the new voters matter.
    func testJointConsensusNeedsBothMajorities_4_3() throws {
        let net = TestNetwork(ids: [1, 2, 3]) { $0.checkQuorum = false }
        net.elect(1)
        net.addJoiningNode(4) { $0.checkQuorum = false }
        net.addJoiningNode(5) { $0.checkQuorum = false }
        try net[1].proposeConfChange(change([(.addVoter, 4), (.addVoter, 5), (.removeNode, 2), (.removeNode, 3)], autoLeave: false))
        net.stabilize()
        net.tickAll(times: 3)
        let joint = net[1].status.confState
        XCTAssertTrue(joint.isJoint)
        XCTAssertEqual(joint.voters, ids([1, 4, 5]))
        XCTAssertEqual(joint.votersOutgoing, ids([1, 2, 3]))
        // The new majority alone cannot commit while joint.
        net.isolate(2); net.isolate(3)
        let commit = net[1].status.commit
        try net.propose(1, [1])
        net.tickAll(times: 3)
        XCTAssertEqual(net[1].status.commit, commit, "the old configuration has no majority")
        net.heal()
        net.tickAll(times: 3)
        XCTAssertGreaterThan(net[1].status.commit, commit)
        // Leave the joint configuration; now {1, 4, 5} decides alone.
        try net[1].proposeConfChange(.leave)
        net.stabilize()
        XCTAssertFalse(net[1].status.confState.isJoint)
        XCTAssertEqual(net[1].status.confState.voters, ids([1, 4, 5]))
        net.isolate(2); net.isolate(3)
        let commit2 = net[1].status.commit
        try net.propose(1, [2])
        XCTAssertEqual(net[1].status.commit, commit2.advanced(by: 1))
    }

    /// Thesis §4.3: with auto-leave the leader leaves the joint configuration by itself.
    func testJointConfigurationLeftAutomatically_4_3() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        net.addJoiningNode(4)
        try net[1].proposeConfChange(change([(.addVoter, 4), (.removeNode, 3)]))
        net.stabilize()
        net.tickAll(times: 3)
        for id in [1, 2, 4] as [UInt64] {
            XCTAssertFalse(net[id].status.confState.isJoint, "node \(id)")
            XCTAssertEqual(net[id].status.confState.voters, ids([1, 2, 4]), "node \(id)")
        }
    }

    /// Thesis §4.2.1: a learner receives the log but neither votes in the quorum count nor campaigns.
    func testLearnerReceivesLogButDoesNotCount_4_2_1() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        net.addJoiningNode(4)
        try net[1].proposeConfChange(change([(.addLearner, 4)]))
        net.stabilize()
        try net.propose(1, [8])
        XCTAssertEqual(net.host(4).applied.last?.data, [8], "the learner gets the log")
        XCTAssertEqual(net[4].status.confState.learners, ids([4]))
        // The leader plus the learner are not a quorum of {1, 2, 3}.
        net.isolate(2); net.isolate(3)
        let commit = net[1].status.commit
        try net.propose(1, [9])
        XCTAssertEqual(net[1].status.commit, commit)
        // A learner never campaigns.
        net.heal()
        net.isolate(4)
        let term = net[4].status.term
        net.tick(4, times: 100)
        XCTAssertEqual(net[4].status.role, .follower)
        XCTAssertEqual(net[4].status.term, term)
    }

    /// Thesis §4.2.1: a learner is promoted by adding it as a voter; then it counts.
    func testLearnerPromotedToVoter_4_2_1() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        net.addJoiningNode(4)
        try net[1].proposeConfChange(change([(.addLearner, 4)]))
        net.stabilize()
        try net[1].proposeConfChange(change([(.addVoter, 4)]))
        net.stabilize()
        XCTAssertEqual(net[1].status.confState.voters, ids([1, 2, 3, 4]))
        XCTAssertEqual(net[1].status.confState.learners, [])
        net.isolate(3)
        let commit = net[1].status.commit
        try net.propose(1, [1])
        XCTAssertEqual(net[1].status.commit, commit.advanced(by: 1), "1, 2 and the promoted 4 are three of four")
    }

    /// Thesis §4.2.3: a removed server that missed its removal keeps campaigning with ever higher
    /// terms; the remaining members ignore it, keep their term and their leader.
    func testRemovedNodeCannotDisrupt_4_2_3() throws {
        let net = TestNetwork(ids: [1, 2, 3]) { $0.preVote = false }
        net.elect(1)
        net.isolate(3)
        try net[1].proposeConfChange(change([(.removeNode, 3)]))
        net.stabilize()
        XCTAssertEqual(net[1].status.confState.voters, ids([1, 2]))
        XCTAssertEqual(net[3].status.confState.voters, ids([1, 2, 3]), "node 3 missed it")
        let term = net[1].status.term
        net.tick(3, times: 50)
        XCTAssertGreaterThan(net[3].status.term, term)
        net.heal()
        net.tickAll(times: 30)
        XCTAssertEqual(net[1].status.role, .leader)
        XCTAssertEqual(net[1].status.term, term)
        XCTAssertEqual(net[2].status.term, term)
    }

    /// A leader that removes itself steps down once the change is applied; the rest elect anew.
    func testRemovedLeaderStepsDown_4_2_2() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        try net[1].proposeConfChange(change([(.removeNode, 1)]))
        net.stabilize()
        XCTAssertNotEqual(net[1].status.role, .leader)
        net.tickAll(times: 40)
        XCTAssertEqual(net.leaders.count, 1)
        XCTAssertNotEqual(net.leaders.first, NodeID(1))
    }

    /// Thesis §4.1: one change at a time; a second is refused until the first is applied.
    func testOneConfChangeAtATime_4_1() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        try net[1].proposeConfChange(change([(.addLearner, 4)]))
        XCTAssertThrowsError(try net[1].proposeConfChange(change([(.addLearner, 5)]))) { error in
            XCTAssertEqual((error as? RaftError)?.code, .confChangeInProgress)
        }
        net.stabilize()
        XCTAssertNoThrow(try net[1].proposeConfChange(change([(.addLearner, 5)])))
    }

    /// Invalid changes are refused at proposal time with an error, not applied.
    func testInvalidConfChangesRefused_4_3() throws {
        let net = TestNetwork(ids: [1])
        net.elect(1)
        XCTAssertThrowsError(try net[1].proposeConfChange(change([(.removeNode, 1)]))) { error in
            XCTAssertEqual((error as? RaftError)?.code, .invalidConfChange)
        }
        XCTAssertThrowsError(try net[1].proposeConfChange(.leave)) { error in
            XCTAssertEqual((error as? RaftError)?.code, .invalidConfChange)
        }
    }

    /// The changer returns a new configuration: demoting a voter of the outgoing half waits for
    /// the leave (it is never voter and learner at once).
    func testChangerDemotionWaitsForLeave_4_3() throws {
        let old = ConfState(voters: ids([1, 2, 3]))
        let joint = try ConfChanger.apply(change([(.addLearner, 3), (.addVoter, 4)]), to: old)
        XCTAssertEqual(joint.voters, ids([1, 2, 4]))
        XCTAssertEqual(joint.votersOutgoing, ids([1, 2, 3]))
        XCTAssertEqual(joint.learnersNext, ids([3]))
        XCTAssertEqual(joint.learners, [])
        let left = try ConfChanger.apply(.leave, to: joint)
        XCTAssertEqual(left.voters, ids([1, 2, 4]))
        XCTAssertEqual(left.learners, ids([3]))
        XCTAssertFalse(left.isJoint)
        XCTAssertEqual(old.voters, ids([1, 2, 3]), "the old configuration is untouched")
    }

    /// Conf changes survive the log's byte encoding; garbage is refused with `malformed`.
    func testConfChangeEncodingRoundTrip() throws {
        let original = change([(.addVoter, 7), (.removeNode, UInt64.max), (.addLearner, 3)], autoLeave: false)
        XCTAssertEqual(try ConfChange(decoding: original.encoded()), original)
        XCTAssertEqual(try ConfChange(decoding: ConfChange.leave.encoded()), .leave)
        XCTAssertThrowsError(try ConfChange(decoding: [1, 2])) { error in
            XCTAssertEqual((error as? RaftError)?.code, .malformed)
        }
        var bad = original.encoded()
        bad[5] = 9
        XCTAssertThrowsError(try ConfChange(decoding: bad))
    }

    /// A host's context travels with the change; a change without one encodes as before contexts
    /// existed; a context whose length disagrees with the bytes is refused.
    func testConfChangeContextRoundTrip() throws {
        var withContext = change([(.updateNode, 7)])
        withContext.context = Array("who asked".utf8)
        XCTAssertEqual(try ConfChange(decoding: withContext.encoded()), withContext)
        let plain = change([(.addVoter, 7)])
        XCTAssertEqual(plain.encoded().count, 5 + 9, "no context, no extra bytes")
        var truncated = withContext.encoded()
        truncated.removeLast()
        XCTAssertThrowsError(try ConfChange(decoding: truncated)) { error in
            XCTAssertEqual((error as? RaftError)?.code, .malformed)
        }
    }

    /// etcd's ConfChangeUpdateNode: a member's description changes, the configuration does not;
    /// a node that is not a member cannot be updated.
    func testUpdateNodeChangesNoConfiguration() throws {
        let old = ConfState(voters: ids([1, 2, 3]), learners: ids([4]))
        XCTAssertEqual(try ConfChanger.apply(change([(.updateNode, 2)]), to: old), old)
        XCTAssertEqual(try ConfChanger.apply(change([(.updateNode, 4)]), to: old), old)
        XCTAssertThrowsError(try ConfChanger.apply(change([(.updateNode, 9)]), to: old)) { error in
            XCTAssertEqual((error as? RaftError)?.code, .invalidConfChange)
        }
    }

    /// The leader reports each member's match and activity for the host's guard rails; others report nothing.
    func testLeaderReportsReplication() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        try net.propose(1, [1])
        net.stabilize()
        let replication = net[1].replication
        XCTAssertEqual(Set(replication.keys), ids([1, 2, 3]))
        for id in [2, 3] as [UInt64] {
            XCTAssertEqual(replication[NodeID(id)]?.match, net[1].status.lastIndex, "node \(id)")
            XCTAssertEqual(replication[NodeID(id)]?.recentlyActive, true)
        }
        XCTAssertEqual(net[2].replication, [:])
    }
}

extension MembershipTests {
    /// Thesis §4.2.3 with §4.3: a voter that has not applied the configuration that added a
    /// candidate still answers it when the candidate's log is ahead of its own (the candidate may
    /// know a configuration it has not seen); a candidate outside the configuration whose log is not
    /// ahead (a removed node) stays ignored.
    func testUnknownCandidateAnsweredOnlyWithNewerLog_4_2_3() {
        let net = TestNetwork(logs: [1: (2, [2]), 2: (2, [2]), 3: (2, [2])]) { $0.preVote = false; $0.checkQuorum = false }
        net[1].step(Message(type: .requestVote, from: NodeID(9), to: NodeID(1), term: Term(3), logTerm: Term(2), index: LogIndex(2)))
        XCTAssertEqual(net[1].status.term, Term(2), "not ahead: ignored, term unchanged")
        XCTAssertTrue(net[1].ready().messages.isEmpty)
        net[1].step(Message(type: .requestVote, from: NodeID(9), to: NodeID(1), term: Term(3), logTerm: Term(2), index: LogIndex(5)))
        XCTAssertEqual(net[1].status.vote, NodeID(9), "ahead: answered (and granted, §5.4.1 holds)")
    }
}
