import Foundation
import XCTest

/// Real kvd processes on loopback: a three-node cluster forms and serves, survives the SIGKILL of
/// its leader, lets the killed node catch up, and a node cut off from the others fails fast.
final class ClusterProcessTests: XCTestCase {
    /// A fresh cluster on loopback elects within a few election timeouts; this bounds a stuck one.
    static let electionTimeLimitSeconds = 30.0
    /// How long a restarted node may take to catch up with the writes it missed.
    static let catchUpTimeLimitSeconds = 30.0
    /// The client deadline given to requests sent to a node that cannot reach a quorum.
    static let cutOffDeadlineSeconds = 5
    /// What the cut-off answer may take beyond its deadline (process start, connection setup).
    static let cutOffSlackSeconds = 3.0
    /// How long a leader cut off from its quorum may take to step down (a few election timeouts).
    static let stepDownTimeLimitSeconds = 15.0
    /// Writes made while a node is down, which it must catch up with.
    static let writesWhileDownCount = 40

    private var harness: ClusterHarness?

    override func tearDown() {
        harness?.shutdown()
        harness = nil
        super.tearDown()
    }

    private func startCluster(nodes: Int = 3) throws -> (ClusterHarness, ClusterLeader) {
        let cluster = try ClusterHarness(nodesCount: nodes, binaries: try ClusterBinaries.locate(), testName: name)
        harness = cluster
        try cluster.startAll()
        let leader = try cluster.waitForLeader(timeLimitSeconds: Self.electionTimeLimitSeconds)
        return (cluster, leader)
    }

    /// Puts through `node` (a follower forwards to the leader); fails the test with the output.
    private func put(
        _ cluster: ClusterHarness, _ key: String, _ value: String, on node: [ClusterNode]? = nil,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let result = try cluster.ctl(["put", key, value], on: node)
        XCTAssertTrue(result.succeeded, "put \(key) on \(node?.map(\.name) ?? ["all"]): \(result.transcript)", file: file, line: line)
        XCTAssertEqual(result.stdout, "OK\n", file: file, line: line)
    }

    /// The value `get` prints for `key` on `node` (nil when absent), in etcdctl's simple format.
    private func get(
        _ cluster: ClusterHarness, _ key: String, on node: ClusterNode, serializable: Bool = false
    ) throws -> (value: String?, result: ClusterCommandResult) {
        var arguments = ["get", key]
        if serializable { arguments.append("--consistency=s") }
        let result = try cluster.ctl(arguments, on: [node])
        guard result.succeeded else { return (nil, result) }
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 2, lines[0] == key else { return (nil, result) }
        return (String(lines[1]), result)
    }

    func testThreeNodeClusterFormsAndServesPutsAndGets() throws {
        let (cluster, leader) = try startCluster()
        XCTAssertTrue(cluster.nodes.contains { $0 === leader.node })
        // Every node takes writes (followers forward them) and every node reads every write.
        for node in cluster.nodes {
            try put(cluster, "greeting-\(node.name)", "hello from \(node.name)", on: [node])
        }
        for reader in cluster.nodes {
            for writer in cluster.nodes {
                let (value, result) = try get(cluster, "greeting-\(writer.name)", on: reader)
                XCTAssertEqual(value, "hello from \(writer.name)", "read on \(reader.name): \(result.transcript)")
            }
        }
        // An overwrite is seen everywhere at once: reads are linearizable by default.
        try put(cluster, "greeting-node1", "overwritten", on: [cluster.nodes[2]])
        for reader in cluster.nodes {
            XCTAssertEqual(try get(cluster, "greeting-node1", on: reader).value, "overwritten", reader.name)
        }
        XCTAssertNil(try get(cluster, "never-written", on: cluster.nodes[0]).value)
    }

    func testSIGKILLOfLeaderLeavesTheOtherTwoElectingANewLeaderThatServesWrites() throws {
        let (cluster, oldLeader) = try startCluster()
        try put(cluster, "before", "kill")
        let survivors = cluster.nodes.filter { $0 !== oldLeader.node }

        let killedAt = Date()
        cluster.stop(oldLeader.node, signal: SIGKILL)
        let newLeader = try cluster.waitForLeader(
            among: survivors, excluding: oldLeader.memberID, timeLimitSeconds: Self.electionTimeLimitSeconds)
        let electedSeconds = Date().timeIntervalSince(killedAt)
        XCTAssertNotEqual(newLeader.memberID, oldLeader.memberID)
        XCTAssertGreaterThan(newLeader.raftTerm, oldLeader.raftTerm, "a new leader needs a new term")

        // The first write after the kill that succeeds, retried until the deadline.
        let deadline = killedAt.addingTimeInterval(Self.electionTimeLimitSeconds)
        var lastAttempt: ClusterCommandResult?
        while Date() < deadline {
            let attempt = try cluster.ctl(["put", "after", "kill"], on: survivors)
            lastAttempt = attempt
            if attempt.succeeded { break }
            usleep(ClusterHarness.pollIntervalMicroseconds)
        }
        let writtenSeconds = Date().timeIntervalSince(killedAt)
        XCTAssertEqual(lastAttempt?.succeeded, true, "no write succeeded after the kill: \(lastAttempt?.transcript ?? "")")
        print("leader \(oldLeader.node.name) SIGKILLed: \(newLeader.node.name) leads after "
            + String(format: "%.3f s, first write after %.3f s", electedSeconds, writtenSeconds))

        for node in survivors {
            XCTAssertEqual(try get(cluster, "before", on: node).value, "kill", "acknowledged write lost on \(node.name)")
            XCTAssertEqual(try get(cluster, "after", on: node).value, "kill", node.name)
        }
    }

    func testKilledNodeRestartsAndCatchesUp() throws {
        let (cluster, oldLeader) = try startCluster()
        try put(cluster, "counter", "0")
        let victim = oldLeader.node
        let survivors = cluster.nodes.filter { $0 !== victim }
        cluster.stop(victim, signal: SIGKILL)
        _ = try cluster.waitForLeader(among: survivors, excluding: oldLeader.memberID, timeLimitSeconds: Self.electionTimeLimitSeconds)
        for i in 1...Self.writesWhileDownCount {
            try put(cluster, "missed-\(i)", "value-\(i)", on: survivors)
        }
        try put(cluster, "counter", "\(Self.writesWhileDownCount)", on: survivors)

        try cluster.start(victim)
        // A serializable read answers from the node's own state: it shows what the node has applied.
        let deadline = Date().addingTimeInterval(Self.catchUpTimeLimitSeconds)
        var seen: (value: String?, result: ClusterCommandResult)?
        while Date() < deadline {
            seen = try get(cluster, "counter", on: victim, serializable: true)
            if seen?.value == "\(Self.writesWhileDownCount)" { break }
            usleep(ClusterHarness.pollIntervalMicroseconds)
        }
        XCTAssertEqual(
            seen?.value, "\(Self.writesWhileDownCount)",
            "\(victim.name) did not catch up within \(Self.catchUpTimeLimitSeconds) s: \(seen?.result.transcript ?? "")\n"
                + cluster.logTail(victim))
        for i in 1...Self.writesWhileDownCount {
            XCTAssertEqual(try get(cluster, "missed-\(i)", on: victim, serializable: true).value, "value-\(i)")
        }
        // It is a full member again: the cluster still agrees on one leader, and it takes writes.
        _ = try cluster.waitForLeader(timeLimitSeconds: Self.electionTimeLimitSeconds)
        try put(cluster, "after-restart", "yes", on: [victim])
        XCTAssertEqual(try get(cluster, "after-restart", on: survivors[0]).value, "yes")
    }

    func testNodeCutOffFromTheOthersAnswersUnavailableWithinItsDeadline() throws {
        let (cluster, leader) = try startCluster()
        try put(cluster, "stable", "value")
        // Keep the leader, the harder case: it must notice it lost its quorum instead of waiting.
        let lonely = leader.node
        for node in cluster.nodes where node !== lonely { cluster.stop(node) }
        // First it must notice (check-quorum): a request sent before it does may have been proposed
        // while it still led, and then its outcome is unknown rather than refused.
        let stepDownDeadline = Date().addingTimeInterval(Self.stepDownTimeLimitSeconds)
        var lonelyStatus: ClusterEndpointStatus?
        while Date() < stepDownDeadline {
            lonelyStatus = try cluster.statuses(of: [lonely])[lonely.name]
            if lonelyStatus?.leaderID == 0 { break }
            usleep(ClusterHarness.pollIntervalMicroseconds)
        }
        XCTAssertEqual(
            lonelyStatus?.leaderID, 0,
            "\(lonely.name) still names a leader \(Self.stepDownTimeLimitSeconds) s after losing its quorum: \(String(describing: lonelyStatus))")

        let deadline = "--command-timeout=\(Self.cutOffDeadlineSeconds)s"
        let limit = Double(Self.cutOffDeadlineSeconds) + Self.cutOffSlackSeconds
        // The client under test prints etcd's message; etcdctl's client log also shows the gRPC code.
        let attempts: [(String, ClusterCommandResult)] = [
            ("put", try cluster.ctl(["put", "lonely", "write", deadline], on: [lonely], timeLimitSeconds: limit + 5)),
            ("linearizable get", try cluster.ctl(["get", "stable", deadline], on: [lonely], timeLimitSeconds: limit + 5)),
            ("etcdctl put", try cluster.etcdctl(["put", "lonely", "write", deadline], on: [lonely], timeLimitSeconds: limit + 5)),
            ("etcdctl get", try cluster.etcdctl(["get", "stable", deadline], on: [lonely], timeLimitSeconds: limit + 5)),
        ]
        for (what, result) in attempts {
            XCTAssertNotNil(result.status, "\(what) hung past its time limit: \(result.transcript)")
            XCTAssertNotEqual(result.status, 0, "\(what) succeeded without a quorum: \(result.transcript)")
            XCTAssertLessThanOrEqual(result.elapsedSeconds, limit, "\(what) took longer than its deadline: \(result.transcript)")
            XCTAssertTrue(result.stderr.contains("etcdserver: no leader"), "\(what) does not name the reason: \(result.transcript)")
            if what.hasPrefix("etcdctl") {
                XCTAssertTrue(result.stderr.contains("code = Unavailable"), "\(what) did not answer Unavailable: \(result.transcript)")
            }
        }
        // What it has applied stays readable on request.
        XCTAssertEqual(try get(cluster, "stable", on: lonely, serializable: true).value, "value")
    }
}
