import Raft
import XCTest

@testable import KeelNode

/// Membership changes on in-process nodes: one at a time, and through any member.
final class MembershipChangeTests: XCTestCase {
    func deadline() -> ContinuousClock.Instant { .now + .seconds(5) }

    /// A second change while the first is not applied is refused at once with a clear error
    /// (etcd drops it silently and lets the caller time out).
    func testASecondChangeWhileOneIsInProgressIsRefused() async throws {
        try await withCluster(size: 3) { cluster in
            let leader = try await cluster.waitForLeader()
            let node = cluster.node(leader)
            // Appends go nowhere (heartbeats still do, so the leader keeps leading): the first
            // change stays in the log, uncommitted, until the network heals.
            for follower in cluster.ids where follower != leader { cluster.hub.drop(.appendEntries, to: follower) }
            let first = Task {
                try await node.addMember(peerURLs: ["http://127.0.0.1:1"], isLearner: true, deadline: .now + .seconds(10))
            }
            try await cluster.eventually("the first change proposed") { await node.status().raftIndex > node.status().raftAppliedIndex }
            let refusal = await expectKeelError(.failedPrecondition) {
                try await node.addMember(peerURLs: ["http://127.0.0.1:2"], isLearner: false, deadline: .now + .seconds(5))
            }
            XCTAssertEqual(refusal?.message, KeelError.membershipChangeInProgress.message)
            cluster.hub.heal()
            let (added, members) = try await first.value
            XCTAssertTrue(added.isLearner)
            XCTAssertEqual(members.count, 4, "only the first change applied")
        }
    }

    /// A change asked of a follower is forwarded to the leader and answered once applied on the
    /// follower; every member then lists the new member.
    func testAChangeAskedOfAFollowerIsForwardedAndAppliedEverywhere() async throws {
        try await withCluster(size: 3) { cluster in
            let leader = try await cluster.waitForLeader()
            let follower = cluster.ids.first { $0 != leader }!
            let (added, members) = try await cluster.node(follower).addMember(
                peerURLs: ["http://127.0.0.1:9"], isLearner: true, deadline: deadline())
            XCTAssertTrue(added.isLearner)
            XCTAssertEqual(members.count, 4)
            for id in cluster.ids {
                try await cluster.eventually("member \(id) listing the learner") {
                    await cluster.node(id).members().members.contains { $0.id == added.id && $0.isLearner }
                }
            }
            // Refused on the leader, the refusal reaches the follower's caller with its code and text.
            let refusal = await expectKeelError(.failedPrecondition) {
                try await cluster.node(follower).addMember(peerURLs: ["http://127.0.0.1:9"], isLearner: true, deadline: .now + .seconds(5))
            }
            XCTAssertEqual(refusal?.message, "etcdserver: Peer URLs already exists")
        }
    }
}
