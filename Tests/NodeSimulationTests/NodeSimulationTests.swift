import KeelNode
import KeelStorage
import Raft
import RaftSimulation
import XCTest

@testable import NodeSimulation

/// Seeds of the node simulation, run in `swift test` (the soak is `node-sim --seeds 10000` in
/// release), and the checker's own teeth.
final class NodeSimulationTests: XCTestCase {
    /// Seeds per `swift test` run: a share of the soak, sized to keep the target near a minute in debug.
    private let seedsInTests: UInt64 = 60

    func testSeedsKeepEveryPropertyAndExerciseTheFaults() {
        var writes = 0, reads = 0, crashes = 0, diskFailures = 0, snapshots = 0, compactions = 0, withoutImage = 0
        var leaseReads = 0
        var granted = 0, keepalives = 0, expired = 0, clientRevokes = 0
        for seed in 0..<seedsInTests {
            let result = NodeSimulation.run(NodeSimOptions(seed: seed))
            XCTAssertNil(result.violation, result.failureReport)
            writes += result.writesAcked
            reads += result.readsServed
            crashes += result.crashes
            diskFailures += result.diskFailures
            snapshots += result.snapshotsInstalled
            compactions += result.logCompactions
            withoutImage += result.restartsWithoutImage
            leaseReads += result.leaseReadsServed
            granted += result.leasesGranted
            keepalives += result.keepalivesAcked
            expired += result.leasesExpired
            clientRevokes += result.leasesRevokedByClients
        }
        // The seeds must reach what they claim to test, or a pass means nothing.
        XCTAssertGreaterThan(writes, 1000)
        XCTAssertGreaterThan(reads, 300)
        XCTAssertGreaterThan(crashes, 20)
        XCTAssertGreaterThan(diskFailures, 0)
        XCTAssertGreaterThan(snapshots, 0)
        XCTAssertGreaterThan(compactions, 10)
        XCTAssertGreaterThan(withoutImage, 0)
        // Lease seeds serve reads from the lease, each checked against the other nodes' roles.
        XCTAssertGreaterThan(leaseReads, 300)
        // TTL leases are granted, renewed, expire (each expiry checked against what clients were
        // promised) and are revoked, across the same faults.
        XCTAssertGreaterThan(granted, 100)
        XCTAssertGreaterThan(keepalives, 200)
        XCTAssertGreaterThan(expired, 20)
        XCTAssertGreaterThan(clientRevokes, 50)
    }

    /// A restarted leader without the image of its stored snapshot holds one back (the path the
    /// real-process test in ReviewFindingsTests takes with wall-clock waits). TTL leases' extra
    /// entries (checkpoints) make the window rare, so these seeds run without them.
    func testARestartedLeaderWithoutItsImageHoldsSnapshotsBack() {
        var heldBack = 0
        for seed: UInt64 in 0..<seedsInTests where heldBack == 0 {
            var options = NodeSimOptions(seed: seed)
            options.ttlLeases = false
            let result = NodeSimulation.run(options)
            XCTAssertNil(result.violation, result.failureReport)
            heldBack += result.snapshotsHeldBack
        }
        XCTAssertGreaterThan(heldBack, 0, "no snapshot held back in \(seedsInTests) seeds without TTL leases")
    }

    /// Clocks that run fast (9 ms ticks counted as 10) expire a lease before the time its last
    /// acknowledged keepalive promised, in real time: the check must notice, or passing seeds
    /// would say nothing about when leases expire.
    func testLeasesExpiringEarlyAreCaught() {
        let caught = Self.firstViolation(seeds: 100) { $0.fastClockMilliseconds = 1 }
        XCTAssertEqual(caught?.code, .leaseExpiredEarly, "\(String(describing: caught))")
    }

    /// The first violation over `seeds` seeds run with `configure`d options.
    static func firstViolation(seeds: UInt64, _ configure: (inout NodeSimOptions) -> Void) -> Violation? {
        for seed: UInt64 in 0..<seeds {
            var options = NodeSimOptions(seed: seed)
            configure(&options)
            if let violation = NodeSimulation.run(options).violation { return violation }
        }
        return nil
    }

    /// Clocks beyond the drift bound (tick periods of 10 and 40 ms against a bound that tolerates
    /// 10 and 12) make a cut-off leader's lease outlast its voters' promise: the checks must
    /// notice, or passing lease seeds would mean nothing.
    func testLeaseReadsWithClocksBeyondTheDriftBoundAreCaught() {
        let violation = Self.firstViolation(seeds: 150) { $0.leaseDriftMilliseconds = 30 }
        XCTAssertNotNil(violation, "150 seeds with clocks beyond the drift bound and no violation")
        XCTAssertTrue([Violation.Code.staleRead, .leaseOverlap].contains(violation?.code), "\(String(describing: violation))")
    }

    func testASeedReplaysIdentically() {
        let first = NodeSimulation.run(NodeSimOptions(seed: 7))
        let second = NodeSimulation.run(NodeSimOptions(seed: 7))
        XCTAssertEqual(first.eventCount, second.eventCount)
        XCTAssertEqual(first.writesAcked, second.writesAcked)
        XCTAssertEqual(first.readsServed, second.readsServed)
        XCTAssertEqual(first.crashes, second.crashes)
        XCTAssertGreaterThan(first.eventCount, 1000)
    }

    /// Only the leader's appends and heartbeats may leave before the Ready is on disk (thesis
    /// §10.2.1); every other type promises something about the sender's disk.
    func testOnlyAppendsAndHeartbeatsLeaveBeforeTheWrite() {
        // Every type there is, including any added later.
        let all = (UInt8.min...UInt8.max).compactMap(MessageType.init(rawValue:))
        XCTAssertGreaterThanOrEqual(all.count, 12)
        let early = all.filter { NodeMachine.maySendBeforePersisting(Message(type: $0, from: NodeID(1), to: NodeID(2))) }
        XCTAssertEqual(early, [.appendEntries, .heartbeat])
    }

    // MARK: The checker catches what it is for

    private func makeRun(nodes: Int = 3) -> NodeSimRun {
        let run = NodeSimRun(NodeSimOptions(seed: 1, nodeCount: nodes))
        for id in run.voters { run.nodes.append(SimNode(id: id, store: MemoryStore(voters: run.voters), tickPeriod: 10)) }
        return run
    }

    private func message(_ type: MessageType, term: UInt64, from: UInt64 = 1, to: UInt64 = 2, index: UInt64 = 0, reject: Bool = false) -> Message {
        var message = Message(type: type, from: NodeID(from), to: NodeID(to), term: Term(term))
        message.index = LogIndex(index)
        message.reject = reject
        return message
    }

    func testAVoteGrantBeforeTheVoteIsSyncedIsCaught() throws {
        let run = makeRun()
        let node = run.nodes[0]
        // Term 2 with the vote for n2 on disk: granting it is fine.
        try node.store.appendLog([], hardState: HardState(term: Term(2), vote: NodeID(2), commit: LogIndex(1)))
        run.checker.checkSent(message(.requestVoteResponse, term: 2), by: node, run: run)
        XCTAssertNil(run.result.violation)
        // A grant to n3 in the same term: the disk says n2.
        run.checker.checkSent(message(.requestVoteResponse, term: 2, to: 3), by: node, run: run)
        XCTAssertEqual(run.result.violation?.code, .persistBeforeSend)
    }

    func testAnyMessageOfATermNotYetSyncedIsCaught() {
        let run = makeRun()
        // The disk is at term 1 (bootstrap): a heartbeat response of term 3 promises a term not on disk.
        run.checker.checkSent(message(.heartbeatResponse, term: 3), by: run.nodes[0], run: run)
        XCTAssertEqual(run.result.violation?.code, .persistBeforeSend)
        // Pre-votes carry the term the sender would campaign in: not a promise.
        let other = makeRun()
        other.checker.checkSent(message(.preVote, term: 3), by: other.nodes[0], run: other)
        XCTAssertNil(other.result.violation)
    }

    func testAnAppendAcknowledgementBeforeTheEntriesAreSyncedIsCaught() throws {
        let run = makeRun()
        let node = run.nodes[0]
        try node.store.appendLog([Entry(term: Term(1), index: LogIndex(2))], hardState: nil)
        run.checker.checkSent(message(.appendEntriesResponse, term: 1, index: 2), by: node, run: run)
        XCTAssertNil(run.result.violation)
        run.checker.checkSent(message(.appendEntriesResponse, term: 1, index: 3), by: node, run: run)
        XCTAssertEqual(run.result.violation?.code, .persistBeforeSend)
    }

    func testACrashLosesWhatWasNotSynced() throws {
        let store = MemoryStore(voters: [NodeID(1)])
        try store.appendLog([Entry(term: Term(1), index: LogIndex(2), data: PutCommand.entry("a"))], hardState: HardState(term: Term(1), commit: LogIndex(2)))
        _ = try store.apply(index: LogIndex(2), term: Term(1), entryData: PutCommand.command("a"))
        XCTAssertEqual(store.appliedIndex, LogIndex(2))
        store.crash()
        // The append was synced; the apply was not.
        XCTAssertEqual(store.durableLastIndex, LogIndex(2))
        XCTAssertEqual(store.appliedIndex, LogIndex(1))
        XCTAssertNil(store.kv.keys[Array("a".utf8)])
    }

    func testAnAcknowledgedWriteThatOnlyTheLeaderHoldsIsCaught() throws {
        let run = makeRun()
        let leader = run.nodes[0]
        try leader.store.appendLog([Entry(term: Term(1), index: LogIndex(2))], hardState: HardState(term: Term(1), commit: LogIndex(2)))
        _ = try leader.store.apply(index: LogIndex(2), term: Term(1), entryData: PutCommand.command("a"))
        run.checker.acknowledged(key: Array("a".utf8), value: Array("v".utf8), revision: 2, origin: leader, run: run)
        XCTAssertEqual(run.result.violation?.code, .ackBeforeDurable)
    }

    func testAStaleLinearizableReadIsCaught() throws {
        let run = makeRun()
        let key = Array("a".utf8)
        for node in run.nodes.prefix(2) {
            try node.store.appendLog([Entry(term: Term(1), index: LogIndex(2))], hardState: HardState(term: Term(1), commit: LogIndex(2)))
            _ = try node.store.apply(index: LogIndex(2), term: Term(1), entryData: PutCommand.command("a"))
        }
        run.checker.acknowledged(key: key, value: Array("v".utf8), revision: 2, origin: run.nodes[0], run: run)
        XCTAssertNil(run.result.violation)
        let operation = SimClient.Operation(
            kind: .read, key: key, value: [], command: .range(RangeRequest(key: key)), deadline: 0, floorAtStart: 2,
            keyFloorAtStart: 2, generation: 0, startTime: 0)
        run.checker.read(operation, RangeResponse(revision: 1, kvs: [], more: false, count: 0), linearizable: true, by: run.nodes[2], run: run)
        XCTAssertEqual(run.result.violation?.code, .staleRead)
    }
}

/// Commands for the store tests.
private enum PutCommand {
    static func command(_ key: String) -> [UInt8] { KVCommand.put(PutRequest(key: Array(key.utf8), value: Array("v".utf8))).encoded() }
    static func entry(_ key: String) -> [UInt8] { command(key) }
}
