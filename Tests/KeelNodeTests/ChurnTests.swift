import KeelNode
import KeelStorage
import Raft
import XCTest

/// Writes under partitions that come and go (and frequent snapshots): every acknowledged write
/// survives, and once healed every replica holds the same state.
final class ChurnTests: XCTestCase {
    func testAcknowledgedWritesSurvivePartitionsAndReplicasConverge() async throws {
        try await withCluster(size: 3, configure: { $0.snapshotEntries = 20 }) { cluster in
            _ = try await cluster.waitForLeader()
            let nodes = cluster.ids.map { cluster.node($0) }
            let clients = 6
            let writesPerClient = 40
            // Each client writes 1, 2, 3... to its own key through a rotating node and remembers the
            // highest value acknowledged.
            let hub = cluster.hub
            let ids = cluster.ids
            let churn = Task {
                var random = SystemRandomNumberGenerator()
                for round in 0..<12 {
                    let victim = ids[Int(random.next() % 3)]
                    if round % 3 != 2 { hub.isolate(victim) }
                    try? await Task.sleep(for: .milliseconds(150))
                    hub.heal()
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
            let acked = try await withThrowingTaskGroup(of: (Int, Int, Int).self) { group in
                for client in 0..<clients {
                    group.addTask {
                        var highest = 0
                        var failures = 0
                        for value in 1...writesPerClient {
                            let node = nodes[(client + value) % nodes.count]
                            do {
                                _ = try await node.put(
                                    PutRequest(key: bytes("client\(client)"), value: bytes("\(value)")), deadline: .now + .milliseconds(500))
                                highest = value
                            } catch let error as KeelError {
                                failures += 1
                                XCTAssertTrue(
                                    [.unavailable, .unknownOutcome, .resourceExhausted].contains(error.code), "unexpected \(error)")
                            }
                            // Spread the writes over the partitions.
                            try await Task.sleep(for: .milliseconds(50))
                        }
                        return (client, highest, failures)
                    }
                }
                var result: [Int: Int] = [:]
                var failures = 0
                for try await (client, highest, failed) in group {
                    result[client] = highest
                    failures += failed
                }
                print("churn: \(failures) of \(clients * writesPerClient) writes failed under partitions")
                return result
            }
            await churn.value
            cluster.hub.heal()
            let leader = try await cluster.waitForLeader()
            // A write after healing: once every node applied it, they all hold everything before it.
            try await cluster.node(leader).put("final", "mark")
            for node in nodes {
                try await cluster.eventually("node \(node.id) applied the final write") { try await node.get("final", serializable: true) == "mark" }
            }
            var states: [[String]] = []
            for node in nodes {
                let (all, _) = try await node.range(RangeRequest.prefix(bytes("client")), serializable: true, deadline: cluster.deadline)
                states.append(all.kvs.map { "\(text($0.key))=\(text($0.value))@\($0.modRevision)" })
                for (client, highest) in acked where highest > 0 {
                    let stored = all.kvs.first { text($0.key) == "client\(client)" }.flatMap { Int(text($0.value)) } ?? 0
                    XCTAssertGreaterThanOrEqual(stored, highest, "client \(client)'s acknowledged write \(highest) lost on \(node.id)")
                }
            }
            XCTAssertEqual(states[0], states[1])
            XCTAssertEqual(states[1], states[2])
            let succeeded = acked.values.reduce(0, +)
            XCTAssertGreaterThan(succeeded, 0, "some writes succeeded under churn")
            print("churn: acknowledged high-water marks \(acked.sorted { $0.key < $1.key }.map(\.value))")
        }
    }
}
