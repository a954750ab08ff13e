import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import KeelProto
import KeelStorage
import XCTest

/// etcd's maintenance operations on real three-node clusters: HashKV agrees across members,
/// move-leader moves leadership, and the storage quota raises NOSPACE for the whole cluster, which
/// compaction, defragmentation and disarming lift, and which survives a restart of every member.
/// The commands go through the client under test (`KEEL_E2E_CTL=etcdctl` and
/// `KEEL_E2E_BINARY=etcd` run the same against etcd 3.4).
final class MaintenanceProcessTests: ClusterTestCase {
    /// node1's quota: a handful of the values below fill it (etcd's too, as run by hand).
    static let quotaBytes = 1_000_000
    /// The value written until the quota is reached.
    static let bigValue = Data(repeating: UInt8(ascii: "x"), count: 100_000)
    /// Puts tried before the quota must have refused one.
    static let fillAttemptsMax = 60
    static let noSpace = "etcdserver: mvcc: database space exceeded"
    /// How long members may take to apply the same entries.
    static let convergeTimeLimitSeconds = 10.0

    private func ctlSucceeds(
        _ cluster: ClusterHarness, _ arguments: [String], on nodes: [ClusterNode]? = nil, stdin: Data? = nil,
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> ClusterCommandResult {
        let result = try cluster.ctl(arguments, on: nodes, stdin: stdin)
        XCTAssertTrue(result.succeeded, "\(arguments.joined(separator: " ")): \(result.transcript)", file: file, line: line)
        return result
    }

    private func assertNoSpace(
        _ cluster: ClusterHarness, _ arguments: [String], on node: ClusterNode, stdin: Data? = nil,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let result = try cluster.ctl(arguments, on: [node], stdin: stdin)
        XCTAssertFalse(result.succeeded, "\(arguments.joined(separator: " ")) on \(node.name) was accepted under NOSPACE", file: file, line: line)
        XCTAssertTrue(result.stderr.contains(Self.noSpace), "\(node.name): \(result.transcript)", file: file, line: line)
    }

    /// The store's current revision, read through `node`.
    private func revision(_ cluster: ClusterHarness, on node: ClusterNode) throws -> Int64 {
        let result = try ctlSucceeds(cluster, ["get", "nothing", "-w", "json"], on: [node])
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        return try XCTUnwrap(((object["header"] as? [String: Any])?["revision"] as? NSNumber)?.int64Value)
    }

    /// Puts the big value through node1 until it is refused; returns how many went in.
    private func fillUntilNoSpace(_ cluster: ClusterHarness) throws -> Int {
        for attempt in 0..<Self.fillAttemptsMax {
            let result = try cluster.ctl(["put", "big"], on: [cluster.nodes[0]], stdin: Self.bigValue)
            if result.succeeded { continue }
            XCTAssertTrue(result.stderr.contains(Self.noSpace), "the put failed otherwise: \(result.transcript)")
            return attempt
        }
        XCTFail("\(Self.fillAttemptsMax) puts of \(Self.bigValue.count) bytes never went over a quota of \(Self.quotaBytes)")
        return Self.fillAttemptsMax
    }

    /// Only node1 has a small quota: that node2 and node3 refuse writes too shows the alarm is
    /// replicated and enforced where entries apply, not only by the member that measured.
    private func startClusterWithQuotaOnNode1() throws -> ClusterHarness {
        let cluster = try ClusterHarness(nodesCount: 3, binaries: try ClusterBinaries.locate(), testName: name)
        harness = cluster
        cluster.nodeArguments["node1"] = ["--quota-backend-bytes=\(Self.quotaBytes)"]
        try cluster.startAll()
        _ = try cluster.waitForLeader(timeLimitSeconds: Self.electionTimeLimitSeconds)
        return cluster
    }

    func testQuotaRaisesNoSpaceForEveryMemberUntilCompactionDefragmentationAndDisarm() throws {
        let cluster = try startClusterWithQuotaOnNode1()
        let (node1, node2, node3) = (cluster.nodes[0], cluster.nodes[1], cluster.nodes[2])
        _ = try ctlSucceeds(cluster, ["put", "keep", "me"], on: [node2])
        _ = try ctlSucceeds(cluster, ["put", "doomed", "soon"], on: [node3])
        let accepted = try fillUntilNoSpace(cluster)
        XCTAssertGreaterThanOrEqual(accepted, 2, "the quota refused writes before the store was anywhere near it")

        // Every member lists node1's NOSPACE alarm, and reports it in its status.
        let node1ID = try XCTUnwrap(try cluster.statuses(of: [node1])["node1"]).memberID
        for node in cluster.nodes {
            let listed = try ctlSucceeds(cluster, ["alarm", "list"], on: [node])
            XCTAssertEqual(listed.stdout, "memberID:\(node1ID) alarm:NOSPACE \n", "alarm list on \(node.name)")
            let status = try ctlSucceeds(cluster, ["endpoint", "status"], on: [node])
            XCTAssertTrue(status.stdout.contains("alarm:NOSPACE"), "\(node.name)'s status: \(status.stdout)")
            // etcd 3.4 reports a member with a raised alarm unhealthy, with no reason.
            let health = try Self.health(of: node, becomes: 503)
            XCTAssertEqual(health.body, #"{"health":"false"}"#, "\(node.name)'s /health under NOSPACE")
        }

        // Writes that grow the store are refused through every member, on every path.
        for node in cluster.nodes { try assertNoSpace(cluster, ["put", "small", "x"], on: node) }
        try assertNoSpace(cluster, ["txn"], on: node2, stdin: Data("\nput small x\n\n\n".utf8))
        try assertNoSpace(cluster, ["lease", "grant", "60"], on: node3)
        // Reads and deletes are served.
        for node in cluster.nodes {
            let read = try ctlSucceeds(cluster, ["get", "keep"], on: [node])
            XCTAssertEqual(read.stdout, "keep\nme\n", node.name)
            let big = try ctlSucceeds(cluster, ["get", "big", "--print-value-only"], on: [node])
            XCTAssertEqual(big.stdout.count, Self.bigValue.count + 1, node.name)
        }
        XCTAssertEqual(try ctlSucceeds(cluster, ["del", "doomed"], on: [node2]).stdout, "1\n")

        // Disarming alone does not help: the store is still too full for the write that raised the
        // alarm, so that write raises it again, as in etcd.
        XCTAssertEqual(try ctlSucceeds(cluster, ["alarm", "disarm"], on: [node3]).stdout, "memberID:\(node1ID) alarm:NOSPACE \n")
        try assertNoSpace(cluster, ["put", "big"], on: node1, stdin: Self.bigValue)
        XCTAssertEqual(try ctlSucceeds(cluster, ["alarm", "list"], on: [node2]).stdout, "memberID:\(node1ID) alarm:NOSPACE \n")

        // Compaction, defragmentation of every member and disarming give writes back.
        _ = try ctlSucceeds(cluster, ["compaction", String(try revision(cluster, on: node1))], on: [node1])
        let defragmented = try ctlSucceeds(cluster, ["defrag"], on: cluster.nodes)
        XCTAssertEqual(
            defragmented.stdout, cluster.nodes.map { "Finished defragmenting etcd member[\($0.clientAddress)]\n" }.joined())
        XCTAssertEqual(try ctlSucceeds(cluster, ["alarm", "disarm"], on: [node1]).stdout, "memberID:\(node1ID) alarm:NOSPACE \n")
        XCTAssertEqual(try ctlSucceeds(cluster, ["alarm", "list"], on: [node3]).stdout, "")
        for node in cluster.nodes { XCTAssertEqual(try Self.health(of: node, becomes: 200).body, #"{"health":"true"}"#, node.name) }
        for node in cluster.nodes { XCTAssertEqual(try ctlSucceeds(cluster, ["put", "small", node.name], on: [node]).stdout, "OK\n") }
        // The space the old versions took is back: the write that raised the alarm fits again.
        XCTAssertEqual(try ctlSucceeds(cluster, ["put", "big"], on: [node1], stdin: Self.bigValue).stdout, "OK\n")
        XCTAssertEqual(try ctlSucceeds(cluster, ["get", "keep"], on: [node3]).stdout, "keep\nme\n")
    }

    /// `/health` on `node`'s client URL once it answers `status` (members sample their alarms
    /// every 100 ms), or its last answer after two seconds.
    static func health(of node: ClusterNode, becomes status: Int) throws -> LoopbackHTTP.Answer {
        let giveUp = Date().addingTimeInterval(2)
        while true {
            let answer = try LoopbackHTTP.get(port: node.clientPort, path: "/health")
            if answer.status == status || Date() > giveUp { return answer }
            usleep(50_000)
        }
    }

    func testNoSpaceAlarmSurvivesARestartOfEveryMember() throws {
        let cluster = try startClusterWithQuotaOnNode1()
        _ = try fillUntilNoSpace(cluster)
        let node1ID = try XCTUnwrap(try cluster.statuses(of: [cluster.nodes[0]])["node1"]).memberID
        for node in cluster.nodes { cluster.stop(node) }
        // Restarted without the small quota: only the stored alarm can refuse writes now.
        cluster.nodeArguments = [:]
        try cluster.startAll()
        _ = try cluster.waitForLeader(timeLimitSeconds: Self.electionTimeLimitSeconds)
        for node in cluster.nodes {
            XCTAssertEqual(try ctlSucceeds(cluster, ["alarm", "list"], on: [node]).stdout, "memberID:\(node1ID) alarm:NOSPACE \n", node.name)
            try assertNoSpace(cluster, ["put", "small", "x"], on: node)
        }
        _ = try ctlSucceeds(cluster, ["alarm", "disarm"], on: [cluster.nodes[1]])
        XCTAssertEqual(try ctlSucceeds(cluster, ["put", "small", "x"], on: [cluster.nodes[0]]).stdout, "OK\n")
    }

    /// After writes of every kind through every member, each member's HashKV at one revision is the
    /// same, stays the same as later writes come in, and changes when that history changes.
    func testHashKVIsEqualOnEveryMemberAtOneRevision() async throws {
        let (cluster, _) = try startCluster()
        let ports = cluster.nodes.map(\.clientPort)
        for index in 0..<30 {
            let node = cluster.nodes[index % 3]
            _ = try ctlSucceeds(cluster, ["put", "key\(index % 7)", "value\(index)"], on: [node])
            if index % 10 == 9 { _ = try ctlSucceeds(cluster, ["del", "key\(index % 7)"], on: [node]) }
        }
        _ = try ctlSucceeds(cluster, ["txn"], on: [cluster.nodes[2]], stdin: Data("\nput t1 a\nput t2 b\n\n\n".utf8))
        let lease = try ctlSucceeds(cluster, ["lease", "grant", "600"], on: [cluster.nodes[1]])
        let leaseID = try XCTUnwrap(lease.stdout.split(separator: " ").dropFirst().first.map(String.init))
        _ = try ctlSucceeds(cluster, ["put", "leased", "v", "--lease=\(leaseID)"], on: [cluster.nodes[0]])
        let atRevision = try revision(cluster, on: cluster.nodes[0])

        let first = try await hashesWhenApplied(ports: ports, revision: atRevision)
        XCTAssertEqual(Set(first.map(\.hash)).count, 1, "members disagree at revision \(atRevision): \(first)")
        XCTAssertEqual(Set(first.map(\.compactRevision)), [-1])

        _ = try ctlSucceeds(cluster, ["put", "later", "write"], on: [cluster.nodes[1]])
        _ = try ctlSucceeds(cluster, ["compaction", String(atRevision - 5)], on: [cluster.nodes[2]])
        let current = try revision(cluster, on: cluster.nodes[0])
        let again = try await hashesWhenApplied(ports: ports, revision: current)
        XCTAssertEqual(Set(again.map(\.hash)).count, 1, "members disagree at revision \(current): \(again)")
        XCTAssertEqual(Set(again.map(\.compactRevision)), [atRevision - 5])
        XCTAssertNotEqual(again[0].hash, first[0].hash, "a write and a compaction left the hash unchanged")
    }

    /// HashKV from every member at `revision`, retrying a member that has not applied that far yet.
    private func hashesWhenApplied(ports: [Int], revision: Int64) async throws -> [Etcdserverpb_HashKVResponse] {
        var answers: [Etcdserverpb_HashKVResponse] = []
        for port in ports {
            let deadline = Date().addingTimeInterval(Self.convergeTimeLimitSeconds)
            while true {
                do {
                    answers.append(
                        try await withClient(port: port) { client in
                            try await Etcdserverpb_Maintenance.Client(wrapping: client).hashKV(.with { $0.revision = revision })
                        })
                    break
                } catch let error as RPCError where error.message.contains("future revision") && Date() < deadline {
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
        }
        return answers
    }

    /// `--auto-compaction-retention=1s` (periodic): the leader compacts, a second or so after the
    /// start and then every second, to the revision of a second before; every member drops that
    /// history, and the newest version of each key stays readable.
    func testPeriodicAutoCompactionDropsHistoryOlderThanTheRetention() throws {
        let cluster = try ClusterHarness(nodesCount: 3, binaries: try ClusterBinaries.locate(), testName: name)
        harness = cluster
        cluster.extraArguments = ["--auto-compaction-mode=periodic", "--auto-compaction-retention=1s"]
        try cluster.startAll()
        _ = try cluster.waitForLeader(timeLimitSeconds: Self.electionTimeLimitSeconds)
        _ = try ctlSucceeds(cluster, ["put", "k", "first"], on: [cluster.nodes[0]])
        let firstRevision = try revision(cluster, on: cluster.nodes[0])
        _ = try ctlSucceeds(cluster, ["put", "k", "second"], on: [cluster.nodes[1]])
        let deadline = Date().addingTimeInterval(Self.convergeTimeLimitSeconds)
        var compacted = Set<String>()
        while compacted.count < cluster.nodes.count, Date() < deadline {
            for node in cluster.nodes where !compacted.contains(node.name) {
                let old = try cluster.ctl(["get", "k", "--rev", String(firstRevision)], on: [node])
                if !old.succeeded, old.stderr.contains("required revision has been compacted") { compacted.insert(node.name) }
            }
            usleep(200_000)
        }
        XCTAssertEqual(compacted.count, cluster.nodes.count, "revision \(firstRevision) still readable on some member: \(compacted)")
        for node in cluster.nodes { XCTAssertEqual(try ctlSucceeds(cluster, ["get", "k"], on: [node]).stdout, "k\nsecond\n") }
    }

    /// `snapshot save` streams a member's backup into a file; the file restores into a fresh store,
    /// and into a new three-member cluster, whose HashKV at the saved revision is the cluster's.
    func testSnapshotSaveWritesABackupThatRestoresToTheSameHashKV() async throws {
        let (cluster, _) = try startCluster()
        for index in 0..<20 { _ = try ctlSucceeds(cluster, ["put", "key\(index % 6)", "value\(index)"], on: [cluster.nodes[index % 3]]) }
        _ = try ctlSucceeds(cluster, ["del", "key1"], on: [cluster.nodes[1]])
        let savedRevision = try revision(cluster, on: cluster.nodes[0])
        let file = cluster.directory.appendingPathComponent("backup.db")
        let saved = try ctlSucceeds(cluster, ["snapshot", "save", file.path], on: [cluster.nodes[0]])
        XCTAssertEqual(saved.stdout, "Snapshot saved at \(file.path)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: file.path + ".part"))
        let several = try cluster.ctl(["snapshot", "save", file.path + "2"], on: cluster.nodes)
        XCTAssertEqual(several.status, 128, several.transcript)

        let receiver = SnapshotReceiver()
        for chunk in try SnapshotFile.chunks(in: [UInt8](try Data(contentsOf: file))) { try receiver.receive(chunk) }
        XCTAssertTrue(receiver.isComplete)
        let restored = try NodeStorage(directory: cluster.directory.appendingPathComponent("restored").path)
        try restored.stateMachine.restore(from: receiver)
        XCTAssertEqual(restored.stateMachine.revision, savedRevision)
        let local = try restored.stateMachine.makeHasher().hashKV(revision: savedRevision)
        let remote = try await hashesWhenApplied(ports: [cluster.nodes[2].clientPort], revision: savedRevision)
        XCTAssertEqual(local.hash, remote[0].hash, "the restored store's history differs from the cluster's")

        // A new cluster started from the file (kvd --restore-from on each member) serves that state,
        // with the same HashKV, and takes writes after it.
        let restoredCluster = try ClusterHarness(nodesCount: 3, binaries: try ClusterBinaries.locate(), testName: name + "Restored")
        addTeardownBlock { restoredCluster.shutdown() }
        restoredCluster.extraArguments = ["--restore-from", file.path]
        try restoredCluster.startAll()
        _ = try restoredCluster.waitForLeader(timeLimitSeconds: Self.electionTimeLimitSeconds)
        let fromNewCluster = try await hashesWhenApplied(ports: restoredCluster.nodes.map(\.clientPort), revision: savedRevision)
        XCTAssertEqual(Set(fromNewCluster.map(\.hash)), [remote[0].hash], "the restored cluster's history differs")
        XCTAssertEqual(try ctlSucceeds(restoredCluster, ["get", "key0"], on: [restoredCluster.nodes[2]]).stdout, "key0\nvalue18\n")
        XCTAssertEqual(try ctlSucceeds(restoredCluster, ["put", "after", "restore"], on: [restoredCluster.nodes[1]]).stdout, "OK\n")
        XCTAssertEqual(try revision(restoredCluster, on: restoredCluster.nodes[0]), savedRevision + 1)

        // etcd's etcdctl saves it too (it checks the SHA-256's place), and its file restores alike.
        let etcdctlFile = cluster.directory.appendingPathComponent("etcdctl-backup.db")
        let etcdctlSaved = try cluster.etcdctl(["snapshot", "save", etcdctlFile.path], on: [cluster.nodes[1]])
        XCTAssertTrue(etcdctlSaved.succeeded, etcdctlSaved.transcript)
        let etcdctlReceiver = SnapshotReceiver()
        for chunk in try SnapshotFile.chunks(in: [UInt8](try Data(contentsOf: etcdctlFile))) { try etcdctlReceiver.receive(chunk) }
        XCTAssertTrue(etcdctlReceiver.isComplete)

        // A flipped byte is refused.
        var damaged = [UInt8](try Data(contentsOf: file))
        damaged[damaged.count / 2] ^= 0x40
        let check = SnapshotReceiver()
        XCTAssertThrowsError(try SnapshotFile.chunks(in: damaged).forEach { try check.receive($0) })
    }

    func testMoveLeaderHandsLeadershipToTheNamedMember() async throws {
        let (cluster, leader) = try startCluster()
        let follower = try XCTUnwrap(cluster.nodes.first { $0.name != leader.node.name })
        let followerID = try XCTUnwrap(try cluster.statuses(of: [follower])[follower.name]).memberID
        let hex = String(followerID, radix: 16)

        // Sent to a follower, MoveLeader is refused with etcd's error (etcdctl never does this: it
        // looks for the leader first).
        do {
            _ = try await withClient(port: follower.clientPort) { client in
                try await Etcdserverpb_Maintenance.Client(wrapping: client).moveLeader(.with { $0.targetID = leader.memberID })
            }
            XCTFail("a follower accepted MoveLeader")
        } catch let error as RPCError {
            XCTAssertEqual(error.code, .failedPrecondition)
            XCTAssertEqual(error.message, "etcdserver: not leader")
        }
        let notMember = try cluster.ctl(["move-leader", "1234"], on: cluster.nodes)
        XCTAssertFalse(notMember.succeeded)
        XCTAssertTrue(notMember.stderr.contains("etcdserver: bad leader transferee"), notMember.transcript)
        let onlyFollower = try cluster.ctl(["move-leader", hex], on: [follower])
        XCTAssertEqual(onlyFollower.status, 128, onlyFollower.transcript)
        XCTAssertTrue(onlyFollower.stderr.contains("no leader endpoint given"), onlyFollower.transcript)

        let moved = try ctlSucceeds(cluster, ["move-leader", hex], on: cluster.nodes)
        XCTAssertEqual(moved.stdout, "Leadership transferred from \(String(leader.memberID, radix: 16)) to \(hex)\n")
        let newLeader = try cluster.waitForLeader(timeLimitSeconds: Self.convergeTimeLimitSeconds)
        XCTAssertEqual(newLeader.memberID, followerID, "leadership went to \(newLeader.node.name), not \(follower.name)")
        XCTAssertGreaterThan(newLeader.raftTerm, leader.raftTerm)
        XCTAssertEqual(try ctlSucceeds(cluster, ["put", "after", "move"], on: [leader.node]).stdout, "OK\n")
    }
}
