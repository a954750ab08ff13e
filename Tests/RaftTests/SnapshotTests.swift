import XCTest
@testable import Raft

/// Log compaction and snapshots (§7).
final class SnapshotTests: XCTestCase {
    /// §7: compaction drops entries up to the snapshot index; the snapshot keeps that entry's term.
    func testCompactDropsPrefixKeepsLastTerm_7() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        for i in 0..<10 { try net.propose(1, [UInt8(i)]) }
        let applied = net[1].status.applied
        let term = net[1].log.term(at: applied)
        net[1].compact(upTo: applied.advanced(by: -2), snapshotData: [0xEE])
        XCTAssertEqual(net[1].log.firstIndex, applied.advanced(by: -1))
        XCTAssertNil(net[1].log.term(at: applied.advanced(by: -3)), "compacted away")
        XCTAssertEqual(net[1].log.term(at: applied.advanced(by: -2)), term, "the snapshot remembers its last term")
        XCTAssertEqual(net[1].log.snapshot.confState.voters, Set([1, 2, 3].map(NodeID.init)))
    }

    /// §7: a follower too far behind (its next entry was compacted) receives the snapshot, installs
    /// it, and then continues with entries; it ends with the same state as the others.
    func testLaggingFollowerReceivesSnapshot_7() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        net.isolate(3)
        for i in 0..<20 { try net.propose(1, [UInt8(i)]) }
        let applied = net[1].status.applied
        net[1].compact(upTo: applied, snapshotData: [0xAB, 0xCD])
        net.heal()
        try net.propose(1, [99])
        net.tickAll(times: 3)
        let snapshots = net.delivered.filter { $0.type == .installSnapshot && $0.to == NodeID(3) }
        XCTAssertEqual(snapshots.count, 1)
        XCTAssertEqual(snapshots.first?.snapshot?.metadata.index, applied)
        XCTAssertEqual(snapshots.first?.snapshot?.data, [0xAB, 0xCD])
        XCTAssertEqual(net.host(3).snapshot?.data, [0xAB, 0xCD], "the host installed it")
        XCTAssertEqual(net.host(3).applied.last?.data, [99], "entries after the snapshot follow")
        XCTAssertEqual(net[3].status.commit, net[1].status.commit)
        XCTAssertEqual(net[3].log.firstIndex, applied.advanced(by: 1))
    }

    /// §7: the snapshot carries the membership as of its index, so a node that only ever sees the
    /// snapshot knows the configuration (here: a learner added before the compaction).
    func testSnapshotCarriesConfState_7() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        try net[1].proposeConfChange(ConfChange(changes: [ConfChangeSingle(type: .addLearner, node: NodeID(5))]))
        net.stabilize()
        net[1].compact(upTo: net[1].status.applied, snapshotData: [])
        net.addJoiningNode(5)
        net.tickAll(times: 3)
        let snapshot = net.delivered.first { $0.type == .installSnapshot && $0.to == NodeID(5) }?.snapshot
        XCTAssertEqual(snapshot?.metadata.confState.learners, [NodeID(5)])
        XCTAssertEqual(net[5].status.confState.learners, [NodeID(5)])
        XCTAssertEqual(net[5].status.confState.voters, Set([1, 2, 3].map(NodeID.init)))
        XCTAssertEqual(net.host(5).confState, net[5].status.confState, "the host persisted it")
    }

    /// §7: the configuration recorded by a compaction is the one in force at that index, not a
    /// later one.
    func testCompactionRecordsConfigOfItsIndex_7() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        try net.propose(1, [1])
        let before = net[1].status.applied
        try net[1].proposeConfChange(ConfChange(changes: [ConfChangeSingle(type: .addLearner, node: NodeID(5))]))
        net.stabilize()
        net[1].compact(upTo: before, snapshotData: [])
        XCTAssertEqual(net[1].log.snapshot.confState.learners, [])
        net[1].compact(upTo: net[1].status.applied, snapshotData: [])
        XCTAssertEqual(net[1].log.snapshot.confState.learners, [NodeID(5)])
    }

    /// A snapshot lost in transit is sent again (after a failed report, or after a check-quorum
    /// round without news), so the follower still catches up.
    func testLostSnapshotIsResent_7() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        net.isolate(3)
        for i in 0..<5 { try net.propose(1, [UInt8(i)]) }
        net[1].compact(upTo: net[1].status.applied, snapshotData: [1])
        net.heal()
        // Lose every snapshot for a few ticks.
        var lost = 0
        for _ in 0..<3 {
            for id in [1, 2, 3] as [UInt64] { net[id].tick() }
            net.processAll()
            while net.deliverOne(filter: { $0.type != .installSnapshot }) {}
            lost += net.inFlight.filter { $0.type == .installSnapshot }.count
            net.inFlight.removeAll { $0.type == .installSnapshot }
        }
        XCTAssertEqual(lost, 1, "one snapshot in flight at a time")
        XCTAssertLessThan(net[3].status.commit, net[1].status.commit)
        net[1].reportSnapshot(NodeID(3), succeeded: false)
        net.tickAll(times: 3)
        XCTAssertEqual(net[3].status.commit, net[1].status.commit, "resent after the failure report")
        XCTAssertEqual(net.host(3).snapshot?.data, [1])
    }

    /// Without any report, a snapshot still pending after a full check-quorum round is resent.
    func testUnreportedLostSnapshotIsResentAfterRound_7() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        net.isolate(3)
        for i in 0..<5 { try net.propose(1, [UInt8(i)]) }
        net[1].compact(upTo: net[1].status.applied, snapshotData: [1])
        net.heal()
        for _ in 0..<3 {
            for id in [1, 2, 3] as [UInt64] { net[id].tick() }
            net.processAll()
            while net.deliverOne(filter: { $0.type != .installSnapshot }) {}
            net.inFlight.removeAll { $0.type == .installSnapshot }
        }
        net.tickAll(times: 25)
        XCTAssertEqual(net[3].status.commit, net[1].status.commit)
        XCTAssertEqual(net.host(3).snapshot?.data, [1])
    }

    /// A node restarted from a snapshot plus later entries resumes where it was.
    func testRestartFromSnapshot_7() throws {
        let net = TestNetwork(ids: [1, 2, 3])
        net.elect(1)
        for i in 0..<6 { try net.propose(1, [UInt8(i)]) }
        let applied = net[2].status.applied
        net[2].compact(upTo: applied.advanced(by: -3), snapshotData: [7])
        var host = net.hosts[NodeID(2)]!
        host.snapshot = Snapshot(metadata: net[2].log.snapshot, data: [7])
        host.entries.removeAll { $0.index <= applied.advanced(by: -3) }
        net.hosts[NodeID(2)] = host
        net.restart(2)
        XCTAssertEqual(net[2].log.firstIndex, applied.advanced(by: -2))
        XCTAssertEqual(net[2].status.lastIndex, net[1].status.lastIndex)
        XCTAssertEqual(net[2].status.applied, applied)
        try net.propose(1, [50])
        XCTAssertEqual(net.host(2).applied.last?.data, [50])
    }
}

extension SnapshotTests {
    /// §7 + thesis §4: a snapshot restored while the host still holds a Ready with configuration
    /// entries supersedes them. Applying those entries afterwards must not change the configuration
    /// (else the node would count votes against a configuration the cluster never had).
    func testConfEntriesHandedOutBeforeRestoredSnapshotAreSuperseded_7() {
        let voters = (1...5).map { NodeID(UInt64($0)) }
        let node = RaftNode(config: RaftConfig(id: NodeID(1)), restored: .bootstrap(voters: voters), random: TestRandom(seed: 1))
        let remove5 = ConfChange(changes: [ConfChangeSingle(type: .removeNode, node: NodeID(5))])
        let remove4 = ConfChange(changes: [ConfChangeSingle(type: .removeNode, node: NodeID(4))])
        node.step(Message(
            type: .appendEntries, from: NodeID(2), to: NodeID(1), term: Term(2), logTerm: Term(1), index: LogIndex(1),
            entries: [
                Entry(term: Term(2), index: LogIndex(2), kind: .confChange, data: remove5.encoded()),
                Entry(term: Term(2), index: LogIndex(3), kind: .confChange, data: remove4.encoded()),
            ],
            commit: LogIndex(3)
        ))
        let rd = node.ready()
        XCTAssertEqual(rd.committedEntries.map(\.index), [LogIndex(2), LogIndex(3)])
        // Before the host finishes that Ready, a snapshot at 10 arrives whose configuration is all five.
        let snapshot = Snapshot(metadata: SnapshotMetadata(index: LogIndex(10), term: Term(2), confState: ConfState(voters: Set(voters))))
        node.step(Message(type: .installSnapshot, from: NodeID(2), to: NodeID(1), term: Term(2), snapshot: snapshot))
        XCTAssertEqual(node.applyConfChange(remove5).voters, Set(voters))
        XCTAssertEqual(node.applyConfChange(remove4).voters, Set(voters))
        node.advance(rd)
        XCTAssertEqual(node.status.confState.voters, Set(voters))
        // Later entries apply normally.
        let rd2 = node.ready()
        XCTAssertEqual(rd2.snapshot?.metadata.index, LogIndex(10))
        node.advance(rd2)
        node.step(Message(
            type: .appendEntries, from: NodeID(2), to: NodeID(1), term: Term(2), logTerm: Term(2), index: LogIndex(10),
            entries: [Entry(term: Term(2), index: LogIndex(11), kind: .confChange, data: remove5.encoded())],
            commit: LogIndex(11)
        ))
        let rd3 = node.ready()
        XCTAssertEqual(rd3.committedEntries.map(\.index), [LogIndex(11)])
        XCTAssertEqual(node.applyConfChange(remove5).voters, Set(voters.dropLast()))
        node.advance(rd3)
    }
}

extension SnapshotTests {
    /// A host may compact while it still holds the Ready it applied (before `advance`); a campaign
    /// right after must not look at the compacted entries (reviewer R3).
    func testCompactBeforeAdvanceThenCampaign_7() {
        let voters = (1...3).map { NodeID(UInt64($0)) }
        let node = RaftNode(config: RaftConfig(id: NodeID(1)), restored: .bootstrap(voters: voters), random: TestRandom(seed: 3))
        let entries = (2...50).map { Entry(term: Term(2), index: LogIndex(UInt64($0)), data: [UInt8($0)]) }
        node.step(Message(type: .appendEntries, from: NodeID(2), to: NodeID(1), term: Term(2), logTerm: Term(1), index: LogIndex(1),
                          entries: entries, commit: LogIndex(50)))
        let rd = node.ready()
        XCTAssertEqual(rd.committedEntries.count, 49)
        node.compact(upTo: LogIndex(50), snapshotData: [9])
        XCTAssertEqual(node.log.firstIndex, LogIndex(51))
        node.campaign()
        XCTAssertEqual(node.status.role, .preCandidate)
        node.advance(rd)
        XCTAssertEqual(node.status.applied, LogIndex(50))
    }
}
