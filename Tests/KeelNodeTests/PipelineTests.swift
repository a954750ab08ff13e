import Dispatch
@testable import KeelNode
import KeelStorage
import Raft
import XCTest

/// Thesis §10.2.1: the leader sends its appends before its own disk write completes; the entry
/// commits on the followers' acknowledgements, and the leader answers once its own write is done.
final class PipelineTests: XCTestCase {
    func testLeaderSendsAppendsBeforeItsOwnWriteCompletes() async throws {
        try await withCluster(size: 3) { cluster in
            let leaderID = try await cluster.waitForLeader()
            let leader = cluster.node(leaderID)
            try await leader.put("warm", "up")
            let followers = cluster.ids.filter { $0 != leaderID }
            let target = await leader.status().raftIndex + 1
            let disk = DispatchSemaphore(value: 0)
            // Bounded: the leader's disk "stalls" for at most 10 s even if the test fails.
            await leader.setBeforeAppend { _ = disk.wait(timeout: .now() + 10) }
            let put = Task { try await leader.put("pipelined", "yes") }
            try await cluster.eventually("both followers persisted the entry while the leader's disk stalls") {
                for id in followers where await cluster.node(id).status().raftIndex < target { return false }
                return true
            }
            let leaderApplied = await leader.status().raftAppliedIndex
            XCTAssertLessThan(leaderApplied, target, "the leader answers only after its own write")
            await leader.setBeforeAppend(nil)
            disk.signal()
            let response = try await put.value
            XCTAssertGreaterThan(response.revision, 1)
        }
    }

    /// Figure 2 / §10.2.1: a follower acknowledges an append only once it is on its disk, so with
    /// both followers' disks stalled the leader cannot commit, however fast its own disk is.
    func testFollowersAcknowledgeOnlyAfterTheirOwnWrite() async throws {
        try await withCluster(size: 3) { cluster in
            let leaderID = try await cluster.waitForLeader()
            let leader = cluster.node(leaderID)
            try await leader.put("warm", "up")
            let followers = cluster.ids.filter { $0 != leaderID }.map { cluster.node($0) }
            let disk = DispatchSemaphore(value: 0)
            for follower in followers { await follower.setBeforeAppend { _ = disk.wait(timeout: .now() + 10) } }
            let target = await leader.status().raftIndex + 1
            let put = Task { try await leader.put("durable", "first") }
            try await cluster.eventually("the leader appended the entry") { await leader.status().raftIndex >= target }
            // Watch for a while: the entry must not commit while no follower has it on disk.
            for _ in 0..<15 {
                try await Task.sleep(for: .milliseconds(20))
                let commit = await leader.status().commitIndex
                XCTAssertLessThan(commit, target, "committed before any follower's disk write completed")
            }
            for follower in followers { await follower.setBeforeAppend(nil) }
            disk.signal()
            disk.signal()
            let response = try await put.value
            XCTAssertGreaterThan(response.revision, 1)
        }
    }
}
