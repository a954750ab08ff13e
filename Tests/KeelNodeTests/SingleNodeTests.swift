import KeelNode
import KeelStorage
import Raft
import XCTest

/// One-node clusters: the KV API, etcd's errors for bad requests, group commit, the data directory.
final class SingleNodeTests: XCTestCase {
    func testOneNodeClusterPutsAndGets() async throws {
        try await withCluster(size: 1) { cluster in
            let node = cluster.node(try await cluster.waitForLeader())
            let first = try await node.put("greeting", "hello")
            let second = try await node.put("greeting", "bonjour")
            XCTAssertEqual(second.revision, first.revision + 1)
            let value = try await node.get("greeting")
            XCTAssertEqual(value, "bonjour")
            let (range, header) = try await node.range(RangeRequest(key: bytes("greeting")), serializable: false, deadline: cluster.deadline)
            XCTAssertEqual(range.kvs.first?.version, 2)
            XCTAssertEqual(header.revision, second.revision)
            XCTAssertEqual(header.clusterID, cluster.clusterID)
            XCTAssertEqual(header.memberID, node.id.rawValue)
            XCTAssertGreaterThan(header.raftTerm, 0)
            let (deleted, _) = try await node.deleteRange(DeleteRangeRequest(key: bytes("greeting")), deadline: cluster.deadline)
            XCTAssertEqual(deleted.deleted, 1)
            let gone = try await node.get("greeting")
            XCTAssertNil(gone)
            let (txn, _) = try await node.txn(
                TxnRequest(
                    compare: [Compare(key: bytes("greeting"), target: .version(0), result: .equal)],
                    success: [.put(PutRequest(key: bytes("greeting"), value: bytes("hi")))]), deadline: cluster.deadline)
            XCTAssertTrue(txn.succeeded)
            let again = try await node.get("greeting", serializable: true)
            XCTAssertEqual(again, "hi")
            let status = await node.status()
            XCTAssertEqual(status.leader, node.id)
            XCTAssertEqual(status.raftAppliedIndex, status.commitIndex)
            XCTAssertEqual(status.raftIndex, status.commitIndex)
            XCTAssertGreaterThan(status.dbSizeBytes, 0)
            XCTAssertEqual(status.version, KeelNode.version)
            let members = await node.members().members
            XCTAssertEqual(members.map(\.id), [node.id])
            XCTAssertEqual(members.first?.clientURLs, cluster.config(for: node.id).clientURLs)
        }
    }

    func testBadRequestsGetEtcdErrorsAndChangeNothing() async throws {
        try await withCluster(size: 1, configure: { $0.maxRequestBytes = 1024 }) { cluster in
            let node = cluster.node(try await cluster.waitForLeader())
            for index in 1...4 { try await node.put("k", "v\(index)") }
            // Revisions 2...5 (a fresh store is at 1); compacting at 4 keeps v3 and v4.
            _ = try await node.compact(revision: 4, physical: true, deadline: cluster.deadline)
            let before = await node.status()
            let deadline = cluster.deadline

            var error = await expectKeelError(.invalidArgument) { try await node.put(PutRequest(key: [], value: bytes("v")), deadline: deadline) }
            XCTAssertEqual(error?.message, "etcdserver: key is not provided")
            error = await expectKeelError(.invalidArgument) {
                try await node.put(PutRequest(key: bytes("k"), value: Array(repeating: 7, count: 2000)), deadline: deadline)
            }
            XCTAssertEqual(error?.message, "etcdserver: request is too large")
            let put = { (key: String) in RequestOp.put(PutRequest(key: bytes(key), value: [])) }
            error = await expectKeelError(.invalidArgument) {
                try await node.txn(TxnRequest(success: (0...128).map { put("k\($0)") }), deadline: deadline)
            }
            XCTAssertEqual(error?.message, "etcdserver: too many operations in txn request")
            error = await expectKeelError(.invalidArgument) { try await node.txn(TxnRequest(success: [put("d"), put("d")]), deadline: deadline) }
            XCTAssertEqual(error?.message, "etcdserver: duplicate key given in txn request")
            for serializable in [false, true] {
                error = await expectKeelError(.outOfRange) {
                    try await node.range(RangeRequest(key: bytes("k"), revision: 2), serializable: serializable, deadline: deadline)
                }
                XCTAssertEqual(error?.message, "etcdserver: mvcc: required revision has been compacted")
                error = await expectKeelError(.outOfRange) {
                    try await node.range(RangeRequest(key: bytes("k"), revision: 1000), serializable: serializable, deadline: deadline)
                }
                XCTAssertEqual(error?.message, "etcdserver: mvcc: required revision is a future revision")
            }
            error = await expectKeelError(.outOfRange) { try await node.compact(revision: 2, physical: false, deadline: deadline) }
            XCTAssertEqual(error?.message, "etcdserver: mvcc: required revision has been compacted")

            let past = ContinuousClock.now - .seconds(1)
            error = await expectKeelError(.deadlineExceeded) { try await node.put(PutRequest(key: bytes("k"), value: bytes("late")), deadline: past) }
            XCTAssertNotNil(error)

            let after = await node.status()
            XCTAssertEqual(after.errors, [], "a node with a leader reports no errors")
            XCTAssertEqual(after.header.revision, before.header.revision, "no bad request took a revision")
            XCTAssertEqual(after.raftIndex, before.raftIndex, "no bad request reached the log")
            let value = try await node.get("k")
            XCTAssertEqual(value, "v4")
            let atFour = try await node.range(RangeRequest(key: bytes("k"), revision: 4), serializable: false, deadline: deadline).0
            XCTAssertEqual(atFour.kvs.map { text($0.value) }, ["v3"], "history from the compacted revision on is kept")
        }
    }

    /// Group commit: while one Ready is being fsynced, new proposals enter the core and the next
    /// Ready carries them together.
    func testConcurrentPutsShareFsyncs() async throws {
        try await withCluster(size: 1) { cluster in
            let node = cluster.node(try await cluster.waitForLeader())
            let writes = 200
            let syncsBefore = await node.syncedWriteCount
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<writes { group.addTask { try await node.put("key\(index)", "value\(index)") } }
                try await group.waitForAll()
            }
            let syncs = await node.syncedWriteCount - syncsBefore
            XCTAssertLessThan(syncs, writes / 2, "\(writes) puts used \(syncs) fsyncs")
            let (all, _) = try await node.range(RangeRequest.prefix(bytes("key")), serializable: false, deadline: cluster.deadline)
            XCTAssertEqual(all.count, Int64(writes))
            print("group commit: \(writes) concurrent puts, \(syncs) synced log writes")
        }
    }

    func testDataDirectoryOfAnotherClusterIsRefused() async throws {
        try await withCluster(size: 1, start: false) { cluster in
            let id = cluster.ids[0]
            try await cluster.start(id)
            _ = try await cluster.waitForLeader()
            try await cluster.node(id).put("k", "v")
            await cluster.stop(id)

            var other = cluster.config(for: id)
            other.clusterID = 0xfeed
            do throws(KeelError) {
                _ = try KeelNode(config: other, network: cluster.hub.endpoint(id), logger: .init(label: "test"))
                XCTFail("a data directory of another cluster was accepted")
            } catch {
                XCTAssertEqual(error.code, .failedPrecondition)
                XCTAssertTrue(error.message.contains(String(cluster.clusterID, radix: 16)), error.message)
                XCTAssertTrue(error.message.contains("feed"), error.message)
                XCTAssertTrue(error.message.contains(String(id.rawValue, radix: 16)), error.message)
                XCTAssertTrue(error.message.contains(other.dataDirectory), error.message)
            }
            // The rightful owner still opens it, with its data.
            let node = try await cluster.start(id)
            _ = try await cluster.waitForLeader()
            let value = try await node.get("k")
            XCTAssertEqual(value, "v")
        }
    }
}
