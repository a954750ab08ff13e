import XCTest
@testable import Raft

/// Log replication (§5.3): progress states, fast backtracking, flow control and batching.
final class ReplicationTests: XCTestCase {
    private func payload(_ i: Int, bytes: Int = 4) -> [UInt8] {
        (0..<bytes).map { UInt8(truncatingIfNeeded: i &+ $0) }
    }

    /// §5.3: committed entries reach every node's state machine in the same order.
    func testCommittedEntriesAppliedInSameOrderEverywhere_5_3() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        for i in 0..<20 { try net.propose(1, payload(i)) }
        net.tickAll(times: 2)
        let reference = net.host(1).applied
        XCTAssertEqual(reference.filter { !$0.data.isEmpty }.count, 20)
        for id in [2, 3] as [UInt64] {
            XCTAssertEqual(net.host(id).applied, reference, "node \(id)")
        }
    }

    /// Proposals accepted between two `ready()` calls travel in one append per follower.
    func testManyProposalsBatchedIntoOneAppend() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        for i in 0..<100 { try net[1].propose(payload(i)) }
        let appends = net[1].ready().messages.filter { $0.type == .appendEntries }
        XCTAssertEqual(appends.count, 2, "one per follower")
        XCTAssertTrue(appends.allSatisfy { $0.entries.count == 100 })
    }

    /// An append carries at most `messageSizeMaxBytes` of payload (one entry always fits) and at
    /// most `proposalBatchMaxEntries` entries.
    func testAppendMessageSizeIsBounded() throws {
        let net = TestNetwork(ids: [1, 2]) { $0.messageSizeMaxBytes = 1000; $0.inflightMessagesMax = 1000 }
        net.elect(1)
        for i in 0..<95 { try net[1].propose(payload(i, bytes: 100)) }
        net.stabilize()
        let appends = net.delivered.filter { $0.type == .appendEntries && !$0.entries.isEmpty }
        XCTAssertTrue(appends.allSatisfy { $0.entries.reduce(0) { $0 + $1.data.count } <= 1000 })
        XCTAssertEqual(appends.reduce(0) { $0 + $1.entries.filter { !$0.data.isEmpty }.count }, 95)
        XCTAssertEqual(net.host(2).applied.count, net.host(1).applied.count)

        let net2 = TestNetwork(ids: [1, 2]) { $0.proposalBatchMaxEntries = 7 }
        net2.elect(1)
        for i in 0..<30 { try net2[1].propose(payload(i)) }
        net2.stabilize()
        let appends2 = net2.delivered.filter { $0.type == .appendEntries }
        XCTAssertTrue(appends2.allSatisfy { $0.entries.count <= 7 })
        XCTAssertEqual(net2.host(2).applied.count, net2.host(1).applied.count)
    }

    /// In the replicate state at most `inflightMessagesMax` appends are unacknowledged per follower;
    /// acknowledgements open the window again.
    func testInflightAppendsAreBounded() throws {
        let net = TestNetwork(ids: [1, 2]) { $0.inflightMessagesMax = 3; $0.proposalBatchMaxEntries = 1 }
        net.elect(1)
        for i in 0..<10 { try net[1].propose(payload(i)) }
        net.process(NodeID(1))
        let sent = net.inFlight.filter { $0.type == .appendEntries && $0.to == NodeID(2) }
        XCTAssertEqual(sent.count, 3, "window full after three")
        net.stabilize()
        XCTAssertEqual(net.host(2).applied.count, net.host(1).applied.count)
        XCTAssertEqual(net[2].status.commit, net[1].status.lastIndex)
    }

    /// §5.3 (fast backtracking, end of §5.3): a follower whose log diverges over many entries is
    /// repaired in a few round trips, not one per entry, and its conflicting suffix is replaced.
    func testFastBacktrackingRepairsDivergentLog_5_3() {
        // Node 3 has 50 uncommitted entries of term 2 that the others never saw; nodes 1 and 2 have
        // 50 entries of term 3.
        let net = TestNetwork(logs: [
            1: (3, Array(repeating: 3, count: 50)),
            2: (3, Array(repeating: 3, count: 50)),
            3: (3, Array(repeating: 2, count: 50)),
        ])
        net.elect(1)
        let rejections = net.delivered.filter { $0.type == .appendEntriesResponse && $0.reject && $0.from == NodeID(3) }
        XCTAssertGreaterThanOrEqual(rejections.count, 1)
        XCTAssertLessThanOrEqual(rejections.count, 2, "one hint skips the whole term")
        XCTAssertEqual(net[3].log.entries(from: LogIndex(2), to: LogIndex(53)), net[1].log.entries(from: LogIndex(2), to: LogIndex(53)))
        XCTAssertEqual(net[3].status.commit, net[1].status.commit)
    }

    /// §5.3 Log Matching: a follower's extra uncommitted entries are truncated when they conflict.
    func testConflictingSuffixReplaced_5_3() {
        let net = TestNetwork(logs: [1: (4, [2, 4]), 2: (4, [2, 4]), 3: (4, [2, 3, 3, 3])])
        net.elect(1)
        XCTAssertEqual(net[3].status.lastIndex, net[1].status.lastIndex)
        XCTAssertEqual(net[3].log.term(at: LogIndex(3)), Term(4))
        XCTAssertEqual(net.host(3).entries.map(\.term), net.host(1).entries.map(\.term), "durable log replaced too")
    }

    /// §5.3, Figure 2 (AppendEntries, step 5): commitIndex = min(leaderCommit, index of last new
    /// entry). A follower whose log runs on past an append's entries (a suffix from an older leader
    /// that the append neither confirms nor replaces) must not commit that suffix on the leader's
    /// word. This leader's probes always land on the first entry that differs (fast backtracking),
    /// so in the simulator such an append only ever reaches a follower whose extra entries are the
    /// leader's own: no seed can catch a follower that commits up to its last index instead.
    func testFollowerCommitsOnlyUpToLastNewEntry_5_3() {
        // Node 3 holds indexes 2...6 of term 2; the leader of term 4 holds 2...3 of term 2 and has
        // committed far beyond them with entries of its own term.
        let net = TestNetwork(logs: [1: (4, [2, 2]), 2: (4, [2, 2]), 3: (3, [2, 2, 2, 2, 2])])
        let follower = net[3]
        follower.step(Message(
            type: .appendEntries, from: NodeID(1), to: NodeID(3), term: Term(4), logTerm: Term(2),
            index: LogIndex(2), entries: [Entry(term: Term(2), index: LogIndex(3), data: [2, 1])], commit: LogIndex(9)
        ))
        XCTAssertEqual(follower.status.lastIndex, LogIndex(6), "a matching append truncates nothing")
        XCTAssertEqual(follower.status.commit, LogIndex(3), "commit stops at the append's last entry")
        let answer = follower.ready().messages.first { $0.type == .appendEntriesResponse }
        XCTAssertEqual(answer?.index, LogIndex(3), "the answer claims only what the append confirmed")
    }

    /// Progress states: a new leader probes; an accepted probe switches to replicate (pipelining);
    /// a rejection in replicate falls back to probe.
    func testProbeThenReplicate() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        let slot = net[1].tracker.slot(NodeID(2))!
        XCTAssertEqual(net[1].tracker.progress[slot].state, .replicate)
        net[1].reportUnreachable(NodeID(2))
        XCTAssertEqual(net[1].tracker.progress[slot].state, .probe)
        try net.propose(1, [1])
        XCTAssertEqual(net[1].tracker.progress[slot].state, .replicate)
        XCTAssertEqual(net[1].tracker.progress[slot].match, net[1].status.lastIndex)
    }

    /// The leader's own entry counts towards a quorum only once the host persisted it.
    func testLeaderCountsItsOwnEntryOnlyAfterPersisting() throws {
        let net = TestNetwork(ids: [1])
        net.elect(1)
        let before = net[1].status.commit
        try net[1].propose([9])
        let rd = net[1].ready()
        XCTAssertEqual(rd.entries.count, 1)
        XCTAssertTrue(rd.committedEntries.isEmpty, "not durable yet")
        net[1].advance(rd)
        XCTAssertEqual(net[1].status.commit, before.advanced(by: 1))
        XCTAssertEqual(net[1].ready().committedEntries.map(\.data), [[9]])
    }
}
