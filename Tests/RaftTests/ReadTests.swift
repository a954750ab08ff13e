import XCTest
@testable import Raft

/// Linearizable reads without log writes: ReadIndex (thesis §6.4) and leases (thesis §6.4.1).
final class ReadTests: XCTestCase {
    /// Thesis §6.4 step 1: a new leader answers reads only after an entry of its term committed,
    /// because until then its commit index may be behind what earlier leaders committed.
    func testReadIndexWaitsForFirstCommitOfTerm_6_4() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net[1].campaign()
        // Win the election but keep the no-op from committing.
        net.processAll()
        while net.deliverOne(filter: { $0.type != .appendEntries && $0.type != .appendEntriesResponse }) {}
        XCTAssertEqual(net[1].status.role, .leader)
        XCTAssertLessThan(net[1].status.commit, net[1].status.lastIndex)
        try net[1].readIndex(context: [1])
        net.process(NodeID(1))
        XCTAssertTrue(net.host(1).readStates.isEmpty, "no read before the no-op commits")
        net.stabilize()
        XCTAssertEqual(net.host(1).readStates, [ReadState(index: net[1].status.lastIndex, context: [1])])
    }

    /// Thesis §6.4 steps 2-3: the read index is the commit index at arrival, released only after a
    /// quorum answered a heartbeat round; one round serves every read queued before it.
    func testReadIndexNeedsHeartbeatQuorum_6_4() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        let commit = net[1].status.commit
        try net[1].readIndex(context: [1])
        try net[1].readIndex(context: [2])
        net.process(NodeID(1))
        let rounds = net.inFlight.filter { $0.type == .heartbeat && !$0.context.isEmpty }
        XCTAssertEqual(rounds.count, 2, "one heartbeat per follower for both reads")
        XCTAssertTrue(net.host(1).readStates.isEmpty)
        net.deliverOne { $0.type == .heartbeat && $0.to == NodeID(2) }
        net.deliverOne { $0.type == .heartbeatResponse }
        XCTAssertEqual(net.host(1).readStates.map(\.context), [[1], [2]], "leader + one follower is a quorum")
        XCTAssertTrue(net.host(1).readStates.allSatisfy { $0.index == commit })
    }

    /// Thesis §6.4: a deposed leader that cannot reach a quorum never answers a read, so it cannot
    /// return stale data after the majority elected a new leader and wrote.
    func testPartitionedLeaderServesNoRead_6_4() throws {
        let net = TestNetwork(ids: [1, 2, 3]) { $0.checkQuorum = false }
        net.elect(1)
        net.isolate(1)
        net.elect(2)
        try net.propose(2, [42])
        try net[1].readIndex(context: [9])
        net.tickAll(times: 20)
        XCTAssertEqual(net[1].status.role, .leader, "without check-quorum it still thinks it leads")
        XCTAssertTrue(net.host(1).readStates.isEmpty, "but no read is served")
    }

    /// Thesis §6.4: a follower obtains a read index from the leader; the index covers every write
    /// committed before the read was requested.
    func testFollowerReadIndexFromLeader_6_4() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        try net.propose(1, [5])
        let committed = net[1].status.commit
        try net[3].readIndex(context: [7, 7])
        net.stabilize()
        XCTAssertEqual(net.host(3).readStates, [ReadState(index: committed, context: [7, 7])])
        XCTAssertGreaterThanOrEqual(net.host(3).appliedIndex, committed)
        XCTAssertTrue(net.delivered.contains { $0.type == .readIndex && $0.to == NodeID(1) })
        XCTAssertTrue(net.delivered.contains { $0.type == .readIndexResponse && $0.to == NodeID(3) })
    }

    /// A follower without a leader refuses the read instead of hanging.
    func testReadWithoutLeaderRefused_6_4() {
        let net = TestNetwork(ids: [1, 2, 3])
        XCTAssertThrowsError(try net[2].readIndex(context: [])) { error in
            XCTAssertEqual((error as? RaftError)?.code, .noLeader)
        }
    }

    /// Lease mode: nodes ignore votes for their first election timeout, so let the cluster elect
    /// on its own and return the leader.
    private func electAfterStartupGuard(_ net: TestNetwork) -> UInt64 {
        let timeout = net.configs[NodeID(1)]!.electionTimeoutTicks
        net.tickAll(times: timeout)
        net.elect(1)
        XCTAssertEqual(net.leaders.count, 1)
        return net.leaders[0].rawValue
    }

    /// Thesis §6.4.1: while a quorum answered recently the leader serves reads from its lease,
    /// with no heartbeat round.
    func testLeaseReadServedWithoutRound_6_4_1() throws {
        let net = TestNetwork(ids: [1, 2, 3]) { $0.readOnlyMode = .leaseBased }
        net.tickAll(times: 30)
        let leader = net.leaders[0].rawValue
        net.tickAll(times: 1)
        try net[leader].readIndex(context: [3])
        let rd = net[leader].ready()
        XCTAssertEqual(rd.readStates, [ReadState(index: net[leader].status.commit, context: [3])])
        XCTAssertFalse(rd.messages.contains { $0.type == .heartbeat && !$0.context.isEmpty })
        net[leader].advance(rd)
    }

    /// Three nodes reading by lease, with this election timeout and clock-drift bound (ticks).
    private func leaseNetwork(timeout: Int, drift: Int) -> TestNetwork {
        TestNetwork(ids: [1, 2, 3]) {
            $0.readOnlyMode = .leaseBased
            $0.electionTimeoutTicks = timeout
            $0.leaseClockDriftBoundTicks = drift
        }
    }

    /// Thesis §6.4.1: the lease lasts the election timeout minus the clock-drift bound (minus one
    /// tick of granularity), counted from when the leader SENT the heartbeat a quorum acknowledged; after that, reads fall back
    /// to a heartbeat round (which an isolated leader cannot complete).
    func testLeaseExpiresAtElectionTimeoutMinusDrift_6_4_1() throws {
        let timeout = 10
        let drift = 3
        let net = leaseNetwork(timeout: timeout, drift: drift)
        let l = electAfterStartupGuard(net)
        net.tickAll(times: 1)  // a heartbeat round sent at this tick, acknowledged by both
        net.isolate(l)
        var served: [Int] = []
        for elapsed in 1...timeout {
            net.tick(l)
            try net[l].readIndex(context: [UInt8(elapsed)])
            net.process(NodeID(l))
            if net.host(l).readStates.contains(where: { $0.context == [UInt8(elapsed)] }) { served.append(elapsed) }
        }
        XCTAssertEqual(served, Array(1..<(timeout - drift - 1)), "served only within T - 1 - drift ticks of the acknowledged send")
    }

    /// Thesis §6.4.1: an answer that arrives late extends the lease only from when its heartbeat
    /// was sent. The voters' promise not to elect anyone else runs from when they heard that
    /// heartbeat, so a lease timed from the answer's arrival outlives the promise by the delay.
    func testLateAnswerDoesNotExtendLease_6_4_1() throws {
        let timeout = 10
        let drift = 3
        let net = leaseNetwork(timeout: timeout, drift: drift)
        let l = electAfterStartupGuard(net)
        net.tick(l)  // a heartbeat round
        let followers = [UInt64(1), 2, 3].filter { $0 != l }
        while net.deliverOne(filter: { $0.type == .heartbeat && $0.from == NodeID(l) }) {}
        // The answers are on their way back, slowly; nothing the leader sends arrives any more.
        for f in followers { net.cut.insert([l, f]) }
        let held = net.inFlight.filter { $0.to == NodeID(l) }
        net.inFlight.removeAll { $0.to == NodeID(l) }
        XCTAssertEqual(held.filter { $0.type == .heartbeatResponse }.count, followers.count)
        // Long enough that a lease counted from the send has ended (T - 1 - drift ticks).
        net.tick(l, times: timeout - drift - 1)
        net.inFlight.append(contentsOf: held)
        while net.deliverOne(filter: { $0.to == NodeID(l) }) {}
        try net[l].readIndex(context: [7])
        net.process(NodeID(l))
        XCTAssertFalse(net.host(l).readStates.contains { $0.context == [7] }, "no lease read on answers to an old heartbeat")
    }

    /// Thesis §6.4.1 + §3.10: once the leader told a target to campaign, its lease is void.
    func testNoLeaseReadAfterTimeoutNow_6_4_1() throws {
        let net = TestNetwork(ids: [1, 2, 3]) { $0.readOnlyMode = .leaseBased }
        let l = electAfterStartupGuard(net)
        let target: UInt64 = l == 1 ? 2 : 1
        net.tickAll(times: 1)
        XCTAssertTrue(net[l].leaseIsValid())
        net.cut.insert([target, l])  // the target's campaign will not reach the old leader
        try net[l].transferLeadership(to: NodeID(target))
        net.process(NodeID(l))
        XCTAssertFalse(net[l].leaseIsValid())
    }

    /// Thesis §6.4.1: a freshly restarted node does not vote for an election timeout, because it may
    /// have promised a lease before it crashed.
    func testRestartedNodeHonoursLeaseBeforeVoting_6_4_1() {
        let net = TestNetwork(ids: [1, 2, 3]) { $0.readOnlyMode = .leaseBased }
        XCTAssertEqual(electAfterStartupGuard(net), 1)
        net.restart(2)
        let term = net[2].status.term
        net[2].step(Message(type: .requestVote, from: NodeID(3), to: NodeID(2), term: term.next, logTerm: term, index: LogIndex(100)))
        XCTAssertEqual(net[2].status.vote, net.host(2).hardState.vote, "no new vote")
        XCTAssertEqual(net[2].status.term, term)
    }
}

extension ReadTests {
    /// Thesis §6.4: a read whose heartbeat round was lost completes with a later heartbeat round,
    /// still at the commit index recorded on arrival.
    func testReadCompletesAfterLostRound_6_4() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        let commit = net[1].status.commit
        try net[1].readIndex(context: [4])
        net.process(NodeID(1))
        net.inFlight.removeAll()  // the round is lost
        try net.propose(1, [1])
        XCTAssertTrue(net.host(1).readStates.isEmpty)
        net.tickAll(times: 1)
        XCTAssertEqual(net.host(1).readStates, [ReadState(index: commit, context: [4])])
    }
}

extension ReadTests {
    /// Thesis §6.4.1: when the lease has lapsed but the leader can still reach a quorum, the read
    /// falls back to a ReadIndex heartbeat round instead of being served from the stale lease.
    func testExpiredLeaseFallsBackToReadIndex_6_4_1() throws {
        let net = leaseNetwork(timeout: 10, drift: 2)
        net.tickAll(times: 10)
        net.elect(1)
        let l = net.leaders[0].rawValue
        net.tickAll(times: 1)
        // Answers to the leader are lost for longer than the lease, shorter than check-quorum.
        for other in [1, 2, 3] as [UInt64] where other != l { net.cut.insert([other, l]) }
        net.tick(l, times: 8)
        XCTAssertFalse(net[l].leaseIsValid())
        XCTAssertEqual(net[l].status.role, .leader)
        net.inFlight.removeAll()
        net.heal()
        try net[l].readIndex(context: [5])
        net.process(NodeID(l))
        XCTAssertTrue(net.host(l).readStates.isEmpty, "not served from the lapsed lease")
        XCTAssertTrue(net.inFlight.contains { $0.type == .heartbeat && !$0.context.isEmpty }, "a ReadIndex round instead")
        net.stabilize()
        XCTAssertEqual(net.host(l).readStates.map(\.context), [[5]])
    }
}
