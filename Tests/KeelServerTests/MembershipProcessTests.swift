import Foundation
import GRPCCore
import KeelProto
import Synchronization
import XCTest

/// Membership changes on real kvd processes, driven with etcdctl 3.4 as an operator would: a
/// learner added under write load joins from the cluster (`--initial-cluster-state existing`),
/// catches up and is promoted with no acknowledged write lost; the leader is removed and the
/// cluster goes on; a member is replaced on a new data directory at the same peer URL.
final class MembershipProcessTests: ClusterTestCase {
    /// Starts `founders` of a cluster of `total` nodes and waits for their leader.
    func startFounders(_ founders: Int, of total: Int) throws -> (ClusterHarness, ClusterLeader) {
        let cluster = try ClusterHarness(nodesCount: total, binaries: try ClusterBinaries.locate(), testName: name)
        harness = cluster
        cluster.founders = Array(cluster.nodes.prefix(founders))
        for node in cluster.founders { try cluster.start(node) }
        return (cluster, try cluster.waitForLeader(among: cluster.founders, timeLimitSeconds: Self.electionTimeLimitSeconds))
    }

    /// The member id `member add` printed ("Member <hex> added to cluster <hex>").
    func addedID(_ result: ClusterCommandResult) throws -> String {
        let words = result.stdout.split(separator: " ")
        guard result.succeeded, words.count > 2, words[0] == "Member" else {
            throw ClusterTestError("member add failed:\n\(result.transcript)")
        }
        return String(words[1])
    }

    /// Polls `body` until it is true or `seconds` pass.
    func eventually(_ seconds: Double, _ what: String, _ body: () throws -> Bool) throws {
        let giveUp = Date().addingTimeInterval(seconds)
        while try !body() {
            guard Date() < giveUp else { throw ClusterTestError("\(what) did not happen within \(seconds) s\n" + (harness?.logTails() ?? "")) }
            Thread.sleep(forTimeInterval: 0.2)
        }
    }

    func testALearnerAddedUnderWriteLoadCatchesUpIsPromotedAndNoAcknowledgedWriteIsLost() throws {
        let (cluster, _) = try startFounders(3, of: 4)
        let founders = cluster.founders
        let newcomer = cluster.node("node4")
        let writer = BackgroundWriter(cluster: cluster, endpoints: founders)
        writer.start()
        defer { writer.stop() }
        try eventually(20, "the first acknowledged writes") { writer.acknowledged.count >= 20 }

        let added = try cluster.etcdctl(["member", "add", newcomer.name, "--peer-urls=\(newcomer.peerURL)", "--learner"], on: founders)
        let id = try addedID(added)
        XCTAssertTrue(added.stdout.contains("ETCD_INITIAL_CLUSTER_STATE=\"existing\""), added.transcript)
        // A learner that has not caught up (it is not even running) is refused, as etcd refuses it.
        let early = try cluster.etcdctl(["member", "promote", id], on: founders)
        XCTAssertFalse(early.succeeded)
        XCTAssertTrue(early.stderr.contains("etcdserver: can only promote a learner member which is in sync with leader"), early.transcript)

        try cluster.start(newcomer)
        try eventually(30, "the learner catching up and being promoted") {
            try cluster.etcdctl(["member", "promote", id], on: founders).succeeded
        }
        let atPromotion = writer.acknowledged.count
        try eventually(20, "more acknowledged writes after the promotion") { writer.acknowledged.count >= atPromotion + 20 }
        writer.stop()

        let list = try cluster.etcdctl(["member", "list"], on: [newcomer])
        XCTAssertTrue(list.succeeded, list.transcript)
        XCTAssertEqual(list.stdout.split(separator: "\n").count, 4, list.stdout)
        XCTAssertTrue(list.stdout.contains("\(id), started, node4, \(newcomer.peerURL), \(newcomer.clientURL), false"), list.stdout)
        // Every write acknowledged before, during and after the change is on the new voter.
        let acknowledged = writer.acknowledged
        try eventually(20, "the new voter applying every acknowledged write") {
            let keys = try cluster.etcdctl(["get", "w-", "--prefix", "--keys-only", "--consistency=s"], on: [newcomer])
            let present = Set(keys.stdout.split(separator: "\n").map(String.init))
            return acknowledged.allSatisfy(present.contains)
        }
        // And it votes: with one founder down, the other two and the newcomer still make a quorum of four.
        cluster.stop(founders[0])
        let put = try cluster.etcdctl(["put", "after", "promotion"], on: [founders[1], founders[2], newcomer])
        XCTAssertTrue(put.succeeded, put.transcript + cluster.logTails())
    }

    /// A leader that compacted its log (a snapshot every 500 entries, 5,000 catch-up entries kept
    /// behind it) sends a new member the image, then the log after it.
    func testANewMemberJoinsFromASnapshotOnceTheLeadersLogWasCompacted() async throws {
        let cluster = try ClusterHarness(nodesCount: 4, binaries: try ClusterBinaries.locate(), testName: name)
        harness = cluster
        cluster.extraArguments = ["--snapshot-count", "500"]
        cluster.founders = Array(cluster.nodes.prefix(3))
        for node in cluster.founders { try cluster.start(node) }
        let leader = try cluster.waitForLeader(among: cluster.founders, timeLimitSeconds: Self.electionTimeLimitSeconds)
        let puts = 6_000
        let writers = 32
        try await withClient(port: leader.node.clientPort) { client in
            let kv = Etcdserverpb_KV.Client(wrapping: client)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        for n in stride(from: writer, to: puts, by: writers) {
                            var request = Etcdserverpb_PutRequest()
                            request.key = Data("k-\(n)".utf8)
                            request.value = Data("v".utf8)
                            _ = try await kv.put(request)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let newcomer = cluster.node("node4")
        _ = try addedID(try cluster.etcdctl(["member", "add", newcomer.name, "--peer-urls=\(newcomer.peerURL)"], on: cluster.founders))
        try cluster.start(newcomer)
        try eventually(60, "the newcomer holding the first and the last write") {
            let first = try cluster.etcdctl(["get", "k-0", "--print-value-only", "--consistency=s"], on: [newcomer]).stdout
            let last = try cluster.etcdctl(["get", "k-\(puts - 1)", "--print-value-only", "--consistency=s"], on: [newcomer]).stdout
            return first == "v\n" && last == "v\n"
        }
        let log = (try? String(contentsOf: newcomer.logURL, encoding: .utf8)) ?? ""
        XCTAssertTrue(log.contains("installed a snapshot from the leader"), cluster.logTail(newcomer))
    }

    /// Over TLS the newcomer asks for the members with its peer certificate, and a peer with
    /// `--peer-client-cert-auth` answers it.
    func testAMemberJoinsATLSClusterOverTLSPeers() throws {
        let cluster = try ClusterHarness(nodesCount: 4, binaries: try ClusterBinaries.locate(), testName: name)
        harness = cluster
        cluster.tls = try TestCertificates.make(in: cluster.directory)
        cluster.founders = Array(cluster.nodes.prefix(3))
        for node in cluster.founders { try cluster.start(node) }
        _ = try cluster.waitForLeader(among: cluster.founders, timeLimitSeconds: Self.electionTimeLimitSeconds)
        XCTAssertTrue(try cluster.etcdctl(["put", "before", "join"], on: cluster.founders).succeeded)
        let newcomer = cluster.node("node4")
        let id = try addedID(try cluster.etcdctl(["member", "add", newcomer.name, "--peer-urls=\(newcomer.peerURL)"], on: cluster.founders))
        try cluster.start(newcomer)
        try eventually(30, "the newcomer serving what was written before it joined") {
            try cluster.etcdctl(["get", "before", "--print-value-only", "--consistency=s"], on: [newcomer]).stdout == "join\n"
        }
        XCTAssertEqual(try cluster.statuses(of: [newcomer])[newcomer.name].map { String($0.memberID, radix: 16) }, id)
        let log = (try? String(contentsOf: newcomer.logURL, encoding: .utf8)) ?? ""
        XCTAssertTrue(log.contains("joining an existing cluster"), cluster.logTail(newcomer))
    }

    func testRemovingTheLeaderHandsOverAndTheClusterContinues() throws {
        let (cluster, leader) = try startCluster()
        let hexID = String(leader.memberID, radix: 16)
        let removed = try cluster.etcdctl(["member", "remove", hexID], on: [leader.node])
        XCTAssertTrue(removed.succeeded, removed.transcript + cluster.logTails())
        XCTAssertTrue(removed.stdout.hasPrefix("Member \(hexID) removed from cluster "), removed.stdout)
        let others = cluster.nodes.filter { $0 !== leader.node }
        let next = try cluster.waitForLeader(among: others, excluding: leader.memberID, timeLimitSeconds: 20)
        XCTAssertNotEqual(next.memberID, leader.memberID)
        // The removed member exits by itself, saying why.
        try eventually(20, "the removed member exiting") { !leader.node.isRunning }
        XCTAssertTrue(cluster.logTail(leader.node).contains("the member has been permanently removed from the cluster"))
        let put = try cluster.etcdctl(["put", "after", "removal"], on: others)
        XCTAssertTrue(put.succeeded, put.transcript + cluster.logTails())
        let list = try cluster.etcdctl(["member", "list"], on: others)
        XCTAssertEqual(list.stdout.split(separator: "\n").count, 2, list.stdout)
        XCTAssertFalse(list.stdout.contains(hexID), list.stdout)
        // Removing it again: etcd's answer.
        let again = try cluster.etcdctl(["member", "remove", hexID], on: others)
        XCTAssertTrue(again.stderr.contains("etcdserver: member not found"), again.transcript)
        // Started again on its data, it refuses: it knows it was removed.
        let logBefore = (try? String(contentsOf: leader.node.logURL, encoding: .utf8))?.count ?? 0
        try cluster.start(leader.node)
        try eventually(20, "the removed member refusing to start") { !leader.node.isRunning }
        let restartLog = String(((try? String(contentsOf: leader.node.logURL, encoding: .utf8)) ?? "").dropFirst(logBefore))
        XCTAssertTrue(restartLog.contains("kvd: etcdserver: the member has been permanently removed from the cluster"), restartLog)
    }

    func testAMemberIsReplacedOnANewDataDirectoryAtTheSamePeerURL() throws {
        let (cluster, leader) = try startCluster()
        XCTAssertTrue(try cluster.etcdctl(["put", "before", "replacement"]).succeeded)
        let victim = cluster.nodes.first { $0 !== leader.node }!
        let list = try cluster.etcdctl(["member", "list"])
        guard let line = list.stdout.split(separator: "\n").first(where: { $0.contains(", \(victim.name), ") }) else {
            return XCTFail("no \(victim.name) in\n\(list.stdout)")
        }
        let oldID = String(line.prefix { $0 != "," })
        cluster.stop(victim, signal: SIGKILL)
        XCTAssertTrue(try cluster.etcdctl(["member", "remove", oldID], on: cluster.nodes.filter { $0 !== victim }).succeeded)
        // A member at the same URL is a new member: a new id, so nothing of the old one's vote record is reused.
        let added = try cluster.etcdctl(["member", "add", victim.name, "--peer-urls=\(victim.peerURL)"], on: cluster.nodes.filter { $0 !== victim })
        let newID = try addedID(added)
        XCTAssertNotEqual(newID, oldID)
        try FileManager.default.removeItem(at: victim.dataDirectory)
        cluster.rejoining.insert(victim.name)
        try cluster.start(victim)
        try eventually(30, "the replacement serving what was written before it") {
            try cluster.etcdctl(["get", "before", "--print-value-only", "--consistency=s"], on: [victim]).stdout == "replacement\n"
        }
        let status = try cluster.statuses(of: [victim])
        XCTAssertEqual(status[victim.name].map { String($0.memberID, radix: 16) }, newID)
        // The membership is stored, not only held in memory: a restarted member still knows it.
        let survivor = cluster.nodes.first { $0 !== victim }!
        cluster.stop(survivor)
        try cluster.start(survivor)
        try eventually(30, "the restarted member listing the replacement") {
            let members = try cluster.etcdctl(["member", "list"], on: [survivor]).stdout.split(separator: "\n")
            return members.count == 3 && members.contains { $0.hasPrefix(newID + ",") } && !members.contains { $0.hasPrefix(oldID + ",") }
        }
    }
}

/// Puts `w-<n>` in a loop with etcdctl on a background thread, remembering each put acknowledged.
/// `@unchecked Sendable`: the harness is only read by the writer thread (it runs commands), and
/// the test thread does not change it while the writer runs.
final class BackgroundWriter: @unchecked Sendable {
    private struct State {
        var acknowledged: [String] = []
        var stopped = false
    }

    private let state = Mutex(State())
    private let cluster: ClusterHarness
    private let endpoints: [ClusterNode]
    private let done = DispatchSemaphore(value: 0)

    init(cluster: ClusterHarness, endpoints: [ClusterNode]) {
        self.cluster = cluster
        self.endpoints = endpoints
    }

    /// The keys whose put succeeded so far.
    var acknowledged: [String] { state.withLock { $0.acknowledged } }

    func start() {
        Thread.detachNewThread { [self] in
            var n = 0
            // Bounded: at most 5,000 puts, whatever the test does.
            while !state.withLock({ $0.stopped }), n < 5_000 {
                let key = "w-\(n)"
                n += 1
                if let result = try? cluster.etcdctl(["put", key, "v"], on: endpoints, timeLimitSeconds: 10), result.succeeded {
                    state.withLock { $0.acknowledged.append(key) }
                }
            }
            done.signal()
        }
    }

    /// Stops the loop and waits for the put in flight. Safe to call twice.
    func stop() {
        let first = state.withLock { state -> Bool in
            defer { state.stopped = true }
            return !state.stopped
        }
        if first { done.wait() }
    }
}
