import KeelNode
import XCTest

@testable import NodeSimulation

/// The node's behaviours that need only its state machine and the network, on the simulator's
/// simulated clocks: deterministic, in milliseconds of real time, where the wall-clock versions
/// (`ReviewFindingsTests`, which keep the RocksDB and actor paths) poll for seconds.
final class NodeScriptTests: XCTestCase {
    /// N1: a follower's read-index request dropped by the network is asked again while the leader
    /// stays the same, so the read is served soon after the network heals (not at its deadline,
    /// 50 ticks after it was sent).
    func testADroppedReadIndexRequestIsAskedAgain() throws {
        let script = NodeScript()
        let leader = try XCTUnwrap(script.waitForLeader(), "no leader")
        let follower = (leader + 1) % 3
        XCTAssertTrue(script.put("k", on: leader))
        XCTAssertTrue(script.advance(until: { script.value("k", on: follower) != nil }), "the follower applied the write")
        let servedBefore = script.run.result.readsServed
        script.isolate(follower)
        script.start(.read, key: "k", on: follower)
        // Half an election timeout: the request is lost, and nobody starts an election.
        script.advance(ticks: 5)
        script.heal()
        let healedAt = script.run.time
        XCTAssertTrue(script.advance(until: { script.clientIdle }, ticksMax: 80), "the read was answered")
        XCTAssertEqual(script.run.result.readsServed, servedBefore + 1, "the read was served, not failed")
        XCTAssertLessThanOrEqual(script.run.time - healedAt, 15 * NodeSimParameters.tickMilliseconds, "served soon after the heal")
        XCTAssertEqual(script.leader, leader, "no election happened")
        XCTAssertNil(script.violation)
    }

    /// N2: a follower two entries behind when the leader snapshots catches up from entries: the
    /// leader keeps `snapshotCatchUpEntriesDefault` entries behind a snapshot.
    func testAFollowerTwoEntriesBehindASnapshotGetsEntries() throws {
        let script = NodeScript {
            $0.snapshotEntries = 5
            $0.snapshotCatchUpEntries = NodeConfig.snapshotCatchUpEntriesDefault
        }
        let leader = try XCTUnwrap(script.waitForLeader(), "no leader")
        let follower = (leader + 1) % 3
        for _ in 1...3 { XCTAssertTrue(script.put("k", on: leader)) }
        XCTAssertTrue(script.advance(until: { script.value("k", on: follower) == script.value("k", on: leader) }))
        script.crash(follower)
        XCTAssertTrue(script.put("k", on: leader))
        XCTAssertTrue(script.put("k", on: leader))
        XCTAssertTrue(script.advance(until: { (script.machine(leader)?.snapshotsTaken ?? 0) > 0 }), "precondition: the leader took a snapshot")
        script.restart(follower)
        XCTAssertTrue(script.advance(until: { script.value("k", on: follower) == script.value("k", on: leader) }), "the follower caught up")
        XCTAssertEqual(script.machine(follower)?.snapshotsInstalled, 0, "two entries behind, yet it was sent the whole state machine")
        XCTAssertNil(script.violation)
    }

    /// N2, the other side: with few entries kept, a follower further behind than them installs the
    /// leader's snapshot and ends with every write.
    func testAFollowerBeyondTheKeptEntriesInstallsASnapshot() throws {
        let script = NodeScript {
            $0.snapshotEntries = 5
            $0.snapshotCatchUpEntries = 2
        }
        let leader = try XCTUnwrap(script.waitForLeader(), "no leader")
        let follower = (leader + 1) % 3
        XCTAssertTrue(script.put("start", on: leader))
        XCTAssertTrue(script.advance(until: { script.value("start", on: follower) != nil }))
        script.isolate(follower)
        for index in 1...20 { XCTAssertTrue(script.put("key\(index % 4)", on: leader)) }
        XCTAssertTrue(script.advance(until: { (script.machine(leader)?.logCompactions ?? 0) > 0 }), "the leader compacted its log")
        script.heal()
        XCTAssertTrue(script.advance(until: { (0..<4).allSatisfy { script.value("key\($0)", on: follower) == script.value("key\($0)", on: leader) } }))
        XCTAssertGreaterThan(script.machine(follower)?.snapshotsInstalled ?? 0, 0, "the entries it missed were compacted")
        XCTAssertNil(script.violation)
    }

    /// The leader is cut off halfway through a 4 s lease; the new one must take the remaining time
    /// from the last checkpoint (every 200 ms): not the whole TTL again (too late: about 6.3 s),
    /// never less (too early; the checker also fails any expiry before what was acknowledged).
    func testALeaderChangeNeitherResetsNorShortensALease() throws {
        let script = NodeScript { $0.leaseCheckpointIntervalMilliseconds = 200 }
        let leader = try XCTUnwrap(script.waitForLeader(), "no leader")
        let follower = (leader + 1) % 3
        let sent = script.run.time
        let lease = try XCTUnwrap(script.grantLease(ttlSeconds: 4, on: follower), "granted")
        XCTAssertTrue(script.putLeased("k", lease: lease, on: follower))
        script.advance(ticks: (sent + 2_000 - script.run.time) / NodeSimParameters.tickMilliseconds)
        script.isolate(leader)
        let newLeader = try XCTUnwrap(script.waitForLeader(among: [0, 1, 2].filter { $0 != leader }), "a new leader")
        XCTAssertTrue(script.advance(until: { script.value("k", on: newLeader) == nil }, ticksMax: 600), "the lease expired")
        let lived = script.run.time - sent
        XCTAssertGreaterThanOrEqual(lived, 4_000, "the new leader expired the lease early")
        XCTAssertLessThan(lived, 5_000, "the new leader gave the lease its whole TTL again")
        XCTAssertNil(script.violation)
    }

    /// A renewal of a lease whose remaining time was checkpointed must reach the log before it is
    /// acknowledged: otherwise a new leader would take the smaller checkpoint and expire it early.
    func testARenewalAfterACheckpointSurvivesALeaderChange() throws {
        let script = NodeScript { $0.leaseCheckpointIntervalMilliseconds = 200 }
        let leader = try XCTUnwrap(script.waitForLeader(), "no leader")
        let follower = (leader + 1) % 3
        let lease = try XCTUnwrap(script.grantLease(ttlSeconds: 3, on: follower), "granted")
        XCTAssertTrue(script.putLeased("k", lease: lease, on: follower))
        script.advance(ticks: 150)  // several checkpoints: about 1.5 s recorded
        let renewed = script.run.time
        XCTAssertTrue(script.keepAlive(lease, on: follower), "renewed")
        script.isolate(leader)
        let newLeader = try XCTUnwrap(script.waitForLeader(among: [0, 1, 2].filter { $0 != leader }), "a new leader")
        XCTAssertTrue(script.advance(until: { script.value("k", on: newLeader) == nil }, ticksMax: 600), "the lease expired")
        XCTAssertGreaterThanOrEqual(script.run.time - renewed, 3_000, "the renewal was lost in the leader change")
        XCTAssertNil(script.violation)
    }
}
