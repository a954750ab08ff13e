import KeelNode
import KeelStorage
import Raft
import XCTest

/// Leases end to end on in-process clusters (real RocksDB, in-memory network, 20 ms ticks: the
/// shortest TTL is 1 s). Times are measured from when the client sent the request, which is no
/// later than when the leader started the lease's timer.
final class LeaseTests: XCTestCase {
    let clock = ContinuousClock()
    var deadline: ContinuousClock.Instant { .now + .seconds(5) }

    func putLeased(_ node: KeelNode, _ key: String, lease: Int64) async throws {
        _ = try await node.put(PutRequest(key: bytes(key), value: bytes("v"), lease: lease), deadline: deadline)
    }

    /// Waits until `key` is gone (read linearizably through `node`); returns when that was seen.
    func waitGone(_ key: String, on cluster: TestCluster, through id: @escaping () async throws -> NodeID) async throws -> ContinuousClock.Instant {
        var seen: ContinuousClock.Instant?
        try await cluster.eventually("\(key) deleted") {
            guard (try? await cluster.node(try await id()).get(key)) == .some(nil) else { return false }
            seen = clock.now
            return true
        }
        return try XCTUnwrap(seen)
    }

    func testExpiryDeletesEveryAttachedKeyInOneRevisionAndNotBeforeTheTTL() async throws {
        try await withCluster(size: 3) { cluster in
            let leader = try await cluster.waitForLeader()
            let follower = cluster.ids.first { $0 != leader }!
            let sent = clock.now
            let granted = try await cluster.node(follower).leaseGrant(id: 0, ttlSeconds: 2, deadline: deadline)
            XCTAssertEqual(granted.ttlSeconds, 2)
            XCTAssertGreaterThan(granted.id, 0)
            try await putLeased(cluster.node(follower), "a", lease: granted.id)
            try await putLeased(cluster.node(follower), "b", lease: granted.id)
            try await cluster.node(leader).put("unleased", "stays")
            let before = try await cluster.node(leader).range(RangeRequest(key: bytes("a"), rangeEnd: bytes("z")), serializable: false, deadline: deadline)
            XCTAssertEqual(before.0.kvs.map { text($0.key) }, ["a", "b", "unleased"])
            XCTAssertEqual(before.0.kvs.first?.lease, granted.id)

            let gone = try await waitGone("a", on: cluster) { leader }
            XCTAssertGreaterThanOrEqual(gone - sent, .seconds(2), "the lease expired before its TTL")
            XCTAssertLessThan(gone - sent, .seconds(3), "the lease outlived its TTL by more than a second")
            let after = try await cluster.node(leader).range(RangeRequest(key: bytes("a"), rangeEnd: bytes("z")), serializable: false, deadline: deadline)
            XCTAssertEqual(after.0.kvs.map { text($0.key) }, ["unleased"])
            XCTAssertEqual(after.0.revision, before.0.revision + 1, "both keys are deleted by one revoke, in one revision")
            let (ids, _) = try await cluster.node(follower).leases()
            XCTAssertEqual(ids, [], "the expired lease is gone everywhere it applied")
            await expectKeelError(.notFound) { try await cluster.node(follower).leaseRenew(id: granted.id, deadline: self.deadline) }
        }
    }

    func testKeepalivesThroughAFollowerExtendTheLeaseAndItExpiresATTLAfterTheLast() async throws {
        try await withCluster(size: 3) { cluster in
            let leader = try await cluster.waitForLeader()
            let follower = cluster.ids.first { $0 != leader }!
            let granted = try await cluster.node(follower).leaseGrant(id: 0, ttlSeconds: 1, deadline: deadline)
            try await putLeased(cluster.node(follower), "held", lease: granted.id)
            var lastSent = clock.now
            let until = clock.now + .seconds(3)
            while clock.now < until {
                lastSent = clock.now
                let (times, _) = try await cluster.node(follower).leaseRenew(id: granted.id, deadline: deadline)
                XCTAssertEqual(times.grantedSeconds, 1)
                XCTAssertEqual(times.remainingMilliseconds, 1000)
                try await Task.sleep(for: .milliseconds(300))
            }
            let held = try await cluster.node(leader).get("held")
            XCTAssertEqual(held, "v", "kept alive for three TTLs, the key is still there")
            let (ttl, keys, _) = try await cluster.node(follower).leaseTimeToLive(id: granted.id, keys: true, deadline: deadline)
            XCTAssertEqual(ttl.grantedSeconds, 1)
            XCTAssertLessThanOrEqual(ttl.remainingMilliseconds, 1000)
            XCTAssertGreaterThan(ttl.remainingMilliseconds, 0)
            XCTAssertEqual(keys.map(text), ["held"])
            let gone = try await waitGone("held", on: cluster) { leader }
            XCTAssertGreaterThanOrEqual(gone - lastSent, .seconds(1), "expired less than a TTL after the last keepalive")
            XCTAssertLessThan(gone - lastSent, .seconds(2))
        }
    }

    func testRevokeDeletesTheKeysAndMissingLeasesAreNotFound() async throws {
        try await withCluster(size: 3) { cluster in
            let leader = try await cluster.waitForLeader()
            let node = cluster.node(leader)
            let granted = try await node.leaseGrant(id: 4242, ttlSeconds: 60, deadline: deadline)
            XCTAssertEqual(granted.id, 4242, "a requested id is kept")
            await expectKeelError(.failedPrecondition) { try await node.leaseGrant(id: 4242, ttlSeconds: 60, deadline: self.deadline) }
            await expectKeelError(.outOfRange) { try await node.leaseGrant(id: 0, ttlSeconds: LeaseLimits.ttlSecondsMax + 1, deadline: self.deadline) }
            let short = try await node.leaseGrant(id: 0, ttlSeconds: 0, deadline: deadline)
            XCTAssertEqual(short.ttlSeconds, 1, "a TTL below the shortest is raised to it (1.5 election timeouts, rounded up)")
            try await putLeased(node, "x", lease: 4242)
            try await putLeased(node, "y", lease: 4242)
            let revision = try await node.leaseRevoke(id: 4242, deadline: deadline).revision
            let x = try await node.get("x")
            let y = try await node.get("y")
            XCTAssertNil(x)
            XCTAssertNil(y)
            let now = try await node.range(RangeRequest(key: bytes("x")), serializable: false, deadline: deadline)
            XCTAssertEqual(now.0.revision, revision)
            await expectKeelError(.notFound) { try await node.leaseRevoke(id: 4242, deadline: self.deadline) }
            await expectKeelError(.notFound) { try await node.leaseTimeToLive(id: 4242, keys: false, deadline: self.deadline) }
            await expectKeelError(.notFound) {
                try await node.put(PutRequest(key: bytes("z"), value: bytes("v"), lease: 4242), deadline: self.deadline)
            }
            let z = try await node.get("z")
            XCTAssertNil(z, "a put with a missing lease stores nothing")
        }
    }

    func testLimitsOnLeasesAndKeysPerLeaseAreRefusedClearly() async throws {
        try await withCluster(size: 1, configure: { $0.leasesMax = 2; $0.keysPerLeaseMax = 2 }) { cluster in
            let leader = try await cluster.waitForLeader()
            let node = cluster.node(leader)
            let first = try await node.leaseGrant(id: 0, ttlSeconds: 60, deadline: deadline)
            _ = try await node.leaseGrant(id: 0, ttlSeconds: 60, deadline: deadline)
            let refused = await expectKeelError(.resourceExhausted) { try await node.leaseGrant(id: 0, ttlSeconds: 60, deadline: self.deadline) }
            XCTAssertTrue(refused?.message.contains("too many leases") ?? false, "\(String(describing: refused))")
            try await putLeased(node, "k1", lease: first.id)
            try await putLeased(node, "k2", lease: first.id)
            try await putLeased(node, "k1", lease: first.id)  // already attached: does not count twice
            let full = await expectKeelError(.resourceExhausted) { try await self.putLeased(node, "k3", lease: first.id) }
            XCTAssertTrue(full?.message.contains("already holds 2 keys") ?? false, "\(String(describing: full))")
            let k3 = try await node.get("k3")
            XCTAssertNil(k3)
            _ = try await node.deleteRange(DeleteRangeRequest(key: bytes("k2")), deadline: deadline)
            try await putLeased(node, "k3", lease: first.id)  // a deleted key freed its place
            let (_, keys, _) = try await node.leaseTimeToLive(id: first.id, keys: true, deadline: deadline)
            XCTAssertEqual(keys.map(text), ["k1", "k3"])
        }
    }

    // A leader change neither resetting nor shortening a lease, and a renewal after a checkpoint
    // surviving one, run deterministically in NodeSimulationTests/NodeScriptTests.

    func testTheRemainingTimeSurvivesARestartOfEveryNode() async throws {
        try await withCluster(size: 3, configure: { $0.leaseCheckpointInterval = .milliseconds(200) }) { cluster in
            let leader = try await cluster.waitForLeader()
            let sent = clock.now
            let granted = try await cluster.node(leader).leaseGrant(id: 0, ttlSeconds: 3, deadline: deadline)
            try await putLeased(cluster.node(leader), "k", lease: granted.id)
            try await Task.sleep(until: sent + .milliseconds(1_500))
            for id in cluster.ids { await cluster.stop(id) }
            let down = clock.now
            try await cluster.startAll()
            let restarted = clock.now
            let newLeader = try await cluster.waitForLeader()
            let (ids, _) = try await cluster.node(newLeader).leases()
            XCTAssertEqual(ids, [granted.id], "the lease survived the restart")
            let gone = try await waitGone("k", on: cluster) { newLeader }
            // The cluster does not age leases while it is down: the lease lives 3 s of up time.
            XCTAssertGreaterThanOrEqual((gone - sent) - (restarted - down), .seconds(3), "expired early across the restart")
            XCTAssertLessThan(gone - restarted, .milliseconds(2_600), "after the restart the lease got more than what was left")
        }
    }
}
