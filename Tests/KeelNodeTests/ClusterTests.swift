import KeelNode
import KeelStorage
import Raft
import XCTest

/// Three-node clusters: elections, linearizable reads, forwarding, leader loss, restarts, snapshots.
final class ClusterTests: XCTestCase {
    func testThreeNodesElectALeaderAndServeLinearizablePutGet() async throws {
        try await withCluster(size: 3) { cluster in
            let leader = try await cluster.waitForLeader()
            try await cluster.node(leader).put("color", "blue")
            // A linearizable read on any node, followers included (read index from the leader),
            // sees the acknowledged write at once: no waiting for replication.
            for id in cluster.ids {
                let value = try await cluster.node(id).get("color")
                XCTAssertEqual(value, "blue", "node \(id)")
            }
            for id in cluster.ids {
                let members = await cluster.node(id).members().members
                XCTAssertEqual(Set(members.map(\.id)), Set(cluster.ids))
                try await cluster.eventually("client URLs of every peer known to \(id)") {
                    await cluster.node(id).members().members.allSatisfy { !$0.clientURLs.isEmpty }
                }
            }
        }
    }

    func testWriteToFollowerIsForwardedAndAnswered() async throws {
        try await withCluster(size: 3) { cluster in
            let leader = try await cluster.waitForLeader()
            let follower = cluster.ids.first { $0 != leader }!
            let response = try await cluster.node(follower).put("forwarded", "yes")
            XCTAssertGreaterThan(response.revision, 0)
            let (txn, header) = try await cluster.node(follower).txn(
                TxnRequest(
                    compare: [Compare(key: bytes("forwarded"), target: .value(bytes("yes")), result: .equal)],
                    success: [.put(PutRequest(key: bytes("forwarded"), value: bytes("twice"), prevKv: true))]), deadline: cluster.deadline)
            XCTAssertTrue(txn.succeeded)
            XCTAssertEqual(header.memberID, follower.rawValue, "answered by the follower that was asked")
            guard case .put(let put) = txn.responses.first else { return XCTFail("expected a put response, got \(txn.responses)") }
            XCTAssertEqual(put.prevKv.map { text($0.value) }, "yes")
            let onLeader = try await cluster.node(leader).get("forwarded")
            XCTAssertEqual(onLeader, "twice")
        }
    }

    func testSerializableReadServesLocalStateWithoutAQuorum() async throws {
        try await withCluster(size: 3) { cluster in
            let leader = try await cluster.waitForLeader()
            let follower = cluster.ids.first { $0 != leader }!
            try await cluster.node(leader).put("local", "1")
            try await cluster.eventually("the follower applied the write") { try await cluster.node(follower).get("local", serializable: true) == "1" }
            cluster.hub.isolate(follower)
            try await cluster.node(leader).put("local", "2")
            // Cut off, the follower still answers serializable reads from its own (stale) state...
            let stale = try await cluster.node(follower).get("local", serializable: true)
            XCTAssertEqual(stale, "1")
            // So does a read-only transaction asked as serializable.
            let (staleTxn, _) = try await cluster.node(follower).txn(
                TxnRequest(success: [.range(RangeRequest(key: bytes("local")))]), serializable: true, deadline: cluster.deadline)
            guard case .range(let seen) = staleTxn.responses.first else { return XCTFail("expected a range response") }
            XCTAssertEqual(seen.kvs.map { text($0.value) }, ["1"])
            // ...while a linearizable read cannot be served.
            let follow = cluster.node(follower)
            let shortDeadline = ContinuousClock.now + .seconds(1)
            let error = await expectKeelError(.unavailable) {
                try await follow.range(RangeRequest(key: bytes("local")), serializable: false, deadline: shortDeadline)
            }
            XCTAssertNotNil(error)
        }
    }

    /// A transaction that writes in neither branch is answered at a read index, like a Range
    /// (thesis §6.4), so it takes no log entry, and on a follower it still sees every write
    /// acknowledged before it; one cut off from the leader cannot answer.
    func testAReadOnlyTxnIsALinearizableReadWithoutALogEntry() async throws {
        try await withCluster(size: 3) { cluster in
            let leader = try await cluster.waitForLeader()
            let follower = cluster.ids.first { $0 != leader }!
            let write = try await cluster.node(leader).put("flag", "on")
            let readOnly = TxnRequest(
                compare: [Compare(key: bytes("flag"), target: .value(bytes("on")), result: .equal)],
                success: [.range(RangeRequest(key: bytes("flag")))],
                failure: [.txn(TxnRequest(success: [.range(RangeRequest(key: bytes("missing")))]))])
            XCTAssertTrue(readOnly.isReadOnly)
            // The follower misses the write while cut off; right after healing, before it could
            // have caught up by itself, the read must still see it (served only once applied).
            cluster.hub.isolate(follower)
            let write2 = try await cluster.node(leader).put("flag", "on")
            cluster.hub.heal()
            let (txn, header) = try await cluster.node(follower).txn(readOnly, deadline: cluster.deadline)
            XCTAssertTrue(txn.succeeded, "the follower saw the acknowledged write")
            guard case .range(let seen) = txn.responses.first else { return XCTFail("expected a range response, got \(txn.responses)") }
            XCTAssertEqual(seen.kvs.map { text($0.value) }, ["on"])
            XCTAssertEqual(seen.kvs.first?.modRevision, write2.revision)
            XCTAssertEqual(txn.revision, write2.revision)
            XCTAssertEqual(header.revision, write2.revision)
            XCTAssertGreaterThan(write2.revision, write.revision)
            // Twenty of them: through the log they would add twenty entries; an unrelated election
            // in the meantime adds one.
            let indexBefore = await cluster.node(leader).status().raftIndex
            for _ in 0..<20 { _ = try await cluster.node(follower).txn(readOnly, deadline: cluster.deadline) }
            let indexAfter = await cluster.node(leader).status().raftIndex
            XCTAssertLessThan(indexAfter - indexBefore, 20, "read-only txns append nothing to the log")

            // The same request with a write in the failure branch goes through the log.
            var writing = readOnly
            writing.failure = [.put(PutRequest(key: bytes("flag"), value: bytes("off")))]
            XCTAssertFalse(writing.isReadOnly)
            _ = try await cluster.node(follower).txn(writing, deadline: cluster.deadline)
            let indexAfterWrite = await cluster.node(leader).status().raftIndex
            XCTAssertGreaterThan(indexAfterWrite, indexAfter)

            // Bad read-only requests get etcd's errors, as through the log.
            let empty = await expectKeelError(.invalidArgument) {
                try await cluster.node(follower).txn(TxnRequest(success: [.range(RangeRequest(key: []))]), deadline: cluster.deadline)
            }
            XCTAssertEqual(empty?.message, "etcdserver: key is not provided")

            // Cut off from the leader, the follower cannot confirm a read index: no stale answer.
            cluster.hub.isolate(follower)
            try await cluster.node(leader).put("flag", "later")
            let follow = cluster.node(follower)
            let shortDeadline = ContinuousClock.now + .seconds(1)
            let cutOff = await expectKeelError(.unavailable) { try await follow.txn(readOnly, deadline: shortDeadline) }
            XCTAssertNotNil(cutOff)
        }
    }

    /// A follower gets its read index from the leader before it has the entries up to it: the read
    /// must wait until they are applied here (thesis §6.4 step 4), for a Range and a read-only Txn.
    func testAFollowersReadWaitsUntilItAppliedTheReadIndex() async throws {
        try await withCluster(size: 3) { cluster in
            let leader = try await cluster.waitForLeader()
            let follower = cluster.ids.first { $0 != leader }!
            try await cluster.node(leader).put("k", "old")
            try await cluster.eventually("the follower applied the first write") {
                try await cluster.node(follower).get("k", serializable: true) == "old"
            }
            // Heartbeats and read-index answers still reach the follower; new entries do not.
            cluster.hub.drop(.appendEntries, to: follower)
            let write = try await cluster.node(leader).put("k", "new")
            let follow = cluster.node(follower)
            let deadline = ContinuousClock.now + .seconds(20)
            let range = Task { try await follow.range(RangeRequest(key: bytes("k")), serializable: false, deadline: deadline).0 }
            let txn = Task { try await follow.txn(TxnRequest(success: [.range(RangeRequest(key: bytes("k")))]), deadline: deadline).0 }
            try await Task.sleep(for: .milliseconds(600))
            cluster.hub.heal()
            let ranged = try await range.value
            XCTAssertEqual(ranged.kvs.map { text($0.value) }, ["new"], "a read served before the follower applied its read index is stale")
            XCTAssertEqual(ranged.kvs.first?.modRevision, write.revision)
            let txnResponse = try await txn.value
            guard case .range(let seen) = txnResponse.responses.first else { return XCTFail("expected a range response") }
            XCTAssertEqual(seen.kvs.map { text($0.value) }, ["new"], "a read-only txn served before the follower applied its read index is stale")
        }
    }

    func testStoppingTheLeaderElectsANewOneAndWritesContinue() async throws {
        try await withCluster(size: 3) { cluster in
            let old = try await cluster.waitForLeader()
            try await cluster.node(old).put("before", "1")
            await cluster.stop(old)
            let survivors = cluster.ids.filter { $0 != old }
            let new = try await cluster.waitForLeader(among: survivors)
            XCTAssertNotEqual(new, old)
            try await cluster.node(new).put("after", "2")
            for id in survivors {
                let before = try await cluster.node(id).get("before")
                let after = try await cluster.node(id).get("after")
                XCTAssertEqual(before, "1")
                XCTAssertEqual(after, "2")
            }
        }
    }

    func testStoppingTheLeaderGracefullyHandsLeadershipOver() async throws {
        try await withCluster(size: 3) { cluster in
            let old = try await cluster.waitForLeader()
            try await cluster.node(old).put("before", "1")
            // stop() without cutting the network first: the leader transfers leadership (§3.10).
            await cluster.node(old).stop()
            var leaders: [NodeID] = []
            for id in cluster.ids where id != old { leaders.append(await cluster.node(id).status().leader) }
            XCTAssertTrue(
                leaders.contains { $0 != old && $0 != .none }, "a survivor leads as soon as stop returns: \(leaders)")
            cluster.hub.remove(old)
            cluster.nodes[old] = nil
            let new = try await cluster.waitForLeader()
            try await cluster.node(new).put("after", "2")
        }
    }

    func testRestartedNodeCatchesUpFromTheLog() async throws {
        try await withCluster(size: 3) { cluster in
            let leader = try await cluster.waitForLeader()
            let follower = cluster.ids.first { $0 != leader }!
            try await cluster.node(leader).put("k", "0")
            await cluster.stop(follower)
            for index in 1...20 { try await cluster.node(leader).put("k", "\(index)") }
            let restarted = try await cluster.start(follower)
            // Its own log replays on start; the rest arrives from the leader.
            try await cluster.eventually("the restarted node applied every write") { try await restarted.get("k", serializable: true) == "20" }
            let value = try await restarted.get("k")
            XCTAssertEqual(value, "20")
            let installed = await restarted.snapshotsInstalled
            XCTAssertEqual(installed, 0, "caught up from the log, not a snapshot")
        }
    }

    func testLaggingNodeCatchesUpThroughASnapshot() async throws {
        try await withCluster(size: 3, configure: { $0.snapshotEntries = 5; $0.snapshotCatchUpEntries = 2 }) { cluster in
            let leader = try await cluster.waitForLeader()
            let lagging = cluster.ids.first { $0 != leader }!
            try await cluster.node(leader).put("start", "s")
            try await cluster.eventually("the follower applied the first write") { try await cluster.node(lagging).get("start", serializable: true) == "s" }
            cluster.hub.isolate(lagging)
            for index in 1...30 { try await cluster.node(leader).put("key\(index % 7)", "\(index)") }
            let compactions = await cluster.node(leader).logCompactions
            XCTAssertGreaterThan(compactions, 0, "the leader compacted its log")
            cluster.hub.heal()
            let node = cluster.node(lagging)
            try await cluster.eventually("the lagging node caught up") { try await node.get("key2", serializable: true) == "30" }
            let installed = await node.snapshotsInstalled
            XCTAssertGreaterThan(installed, 0, "caught up through a snapshot: the entries it missed were compacted")
            let (all, _) = try await node.range(RangeRequest.prefix(bytes("key")), serializable: true, deadline: cluster.deadline)
            XCTAssertEqual(all.kvs.map { text($0.value) }, ["28", "29", "30", "24", "25", "26", "27"])
            // And it keeps following: a new write reaches it through the log.
            try await cluster.node(leader).put("after", "snapshot")
            try await cluster.eventually("a write after the snapshot arrives") { try await node.get("after", serializable: true) == "snapshot" }
            // A restart of the snapshotted node starts from its snapshot.
            await cluster.stop(lagging)
            let restarted = try await cluster.start(lagging)
            let value = try await restarted.get("key2", serializable: true)
            XCTAssertEqual(value, "30")
        }
    }

    /// A restarted leader must send laggards a snapshot that is exactly its state at the snapshot
    /// index (it re-snapshots on start: `RestoredState.snapshotData`).
    func testWholeClusterRestartKeepsDataAndARestartedLeaderSendsACorrectSnapshot() async throws {
        try await withCluster(size: 3, configure: { $0.snapshotEntries = 5; $0.snapshotCatchUpEntries = 2 }) { cluster in
            let leader = try await cluster.waitForLeader()
            let lagging = cluster.ids.first { $0 != leader }!
            try await cluster.node(leader).put("early", "e")
            try await cluster.eventually("every node applied the first write") {
                try await cluster.node(lagging).get("early", serializable: true) == "e"
            }
            cluster.hub.isolate(lagging)
            for index in 1...20 { try await cluster.node(leader).put("key\(index % 4)", "\(index)") }
            for id in cluster.ids { await cluster.stop(id) }
            cluster.hub.heal()
            let others = cluster.ids.filter { $0 != lagging }
            for id in others { try await cluster.start(id) }
            let newLeader = try await cluster.waitForLeader(among: others)
            let kept = try await cluster.node(newLeader).get("key0")
            XCTAssertEqual(kept, "20", "acknowledged writes survive a restart of the whole cluster")
            try await cluster.node(newLeader).put("late", "l")
            let node = try await cluster.start(lagging)
            try await cluster.eventually("the laggard caught up from the restarted leader") {
                try await node.get("late", serializable: true) == "l"
            }
            let installed = await node.snapshotsInstalled
            XCTAssertGreaterThan(installed, 0)
            let (all, _) = try await node.range(RangeRequest.prefix(bytes("key")), serializable: true, deadline: cluster.deadline)
            XCTAssertEqual(all.kvs.map { text($0.value) }, ["20", "17", "18", "19"])
            let early = try await node.get("early", serializable: true)
            XCTAssertEqual(early, "e")
        }
    }
}
