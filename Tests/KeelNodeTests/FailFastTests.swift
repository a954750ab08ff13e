import KeelNode
import KeelStorage
import Raft
import XCTest

/// Requests that cannot be served fail within their deadline with a reason, never hang or queue
/// without bound.
final class FailFastTests: XCTestCase {
    func testNodeCutOffFromTheOthersAnswersUnavailableWithinItsDeadline() async throws {
        try await withCluster(size: 3) { cluster in
            let leader = try await cluster.waitForLeader()
            let follower = cluster.ids.first { $0 != leader }!
            try await cluster.node(leader).put("k", "v")
            cluster.hub.isolate(follower)
            let node = cluster.node(follower)
            try await cluster.eventually("the cut-off node notices it has no leader") { await node.status().leader == .none }
            let clock = ContinuousClock()
            let started = clock.now
            let deadline = started + .seconds(3)
            var error = await expectKeelError(.unavailable) { try await node.put(PutRequest(key: bytes("k"), value: bytes("w")), deadline: deadline) }
            XCTAssertEqual(error?.message, "etcdserver: no leader")
            error = await expectKeelError(.unavailable) { try await node.range(RangeRequest(key: bytes("k")), serializable: false, deadline: deadline) }
            XCTAssertEqual(error?.message, "etcdserver: no leader")
            XCTAssertLessThan(clock.now, deadline, "answered within the deadline")
            let status = await node.status()
            XCTAssertEqual(status.errors, ["etcdserver: no leader"])
            // The others still serve.
            let others = cluster.ids.filter { $0 != follower }
            let current = try await cluster.waitForLeader(among: others)
            try await cluster.node(current).put("k", "still")
        }
    }

    func testFullProposalQueueAnswersResourceExhaustedAndStuckWritesSayTheirOutcomeIsUnknown() async throws {
        try await withCluster(size: 3, configure: { $0.pendingProposalsMax = 3 }) { cluster in
            let leader = try await cluster.waitForLeader()
            let node = cluster.node(leader)
            try await node.put("k", "committed")
            // Without its followers the leader cannot commit: proposals stay pending.
            for id in cluster.ids where id != leader { await cluster.stop(id) }
            let deadline = ContinuousClock.now + .seconds(2)
            let stuck = (0..<3).map { index in
                Task { () -> KeelError? in
                    do {
                        _ = try await node.put(PutRequest(key: bytes("stuck\(index)"), value: bytes("v")), deadline: deadline)
                        return nil
                    } catch let error as KeelError { return error } catch { return KeelError(.internal, "\(error)") }
                }
            }
            try await cluster.eventually("three proposals pending") { await node.pendingProposalCount == 3 }
            let error = await expectKeelError(.resourceExhausted) { try await node.put(PutRequest(key: bytes("more"), value: bytes("v")), deadline: deadline) }
            XCTAssertEqual(error?.message, "etcdserver: too many requests")
            for task in stuck {
                let outcome = await task.value
                XCTAssertEqual(outcome?.code, .unknownOutcome, "\(String(describing: outcome))")
                XCTAssertTrue(outcome?.message.hasPrefix("etcdserver: request timed out") ?? false)
            }
            let pending = await node.pendingProposalCount
            XCTAssertEqual(pending, 0)
        }
    }
}
