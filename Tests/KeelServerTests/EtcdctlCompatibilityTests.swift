import Foundation
import XCTest

/// etcd's own etcdctl 3.4 against a three-node kvd cluster prints what it prints against etcd 3.4:
/// each section of Fixtures/etcdctl/commands.txt runs on a fresh cluster and every command's output
/// is compared, after ``EtcdctlNormalizer``, with etcd's recorded answer in Fixtures/etcdctl/golden
/// (cluster/record-etcdctl-golden re-records it).
final class EtcdctlCompatibilityTests: XCTestCase {
    static let electionTimeLimitSeconds = 30.0
    /// etcdctl's own deadline for one command, as in the recording.
    static let commandTimeout = "5s"

    private var harness: ClusterHarness?

    override func tearDown() {
        harness?.shutdown()
        harness = nil
        super.tearDown()
    }

    func testKeyValueCommandsPrintWhatTheyPrintAgainstEtcd() throws {
        _ = try runSection("kv")
    }

    func testMemberListAndEndpointStatusPrintWhatTheyPrintAgainstEtcd() throws {
        _ = try runSection("cluster")
    }

    func testBadRequestsGetEtcdsErrorsAndChangeNothing() throws {
        let (outputs, base) = try runSection("errors")
        // Spelled out beyond the golden comparison: after the empty keys, the oversized value and
        // the malformed transactions, the store holds what the two puts before them wrote, at the
        // revision they left.
        let after = try XCTUnwrap(outputs["get-after-errors"])
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [String: Any])
        let header = try XCTUnwrap(json["header"] as? [String: Any])
        XCTAssertEqual((header["revision"] as? NSNumber)?.int64Value ?? 0, base + 2, "a refused request changed the revision")
        let kvs = try XCTUnwrap(json["kvs"] as? [[String: Any]])
        XCTAssertEqual(kvs.compactMap { $0["key"] as? String }, [Data("keep".utf8).base64EncodedString()])
        XCTAssertEqual(kvs.compactMap { $0["value"] as? String }, [Data("again".utf8).base64EncodedString()])
    }

    func testLeaseCommandsPrintWhatTheyPrintAgainstEtcd() throws {
        let (outputs, _) = try runSection("lease")
        // Beyond the golden comparison, which lets a remaining TTL lie anywhere in a window below
        // the granted one: the remaining TTL counts down. grant-b's lease is still alive at the end.
        let command = try XCTUnwrap(try EtcdctlFixtures.load().commands.first { $0.section == "lease" && $0.name == "grant-b" })
        let lease = try XCTUnwrap(command.grantedLease(stdout: try XCTUnwrap(outputs["grant-b"]).stdout), "grant-b granted no lease")
        let cluster = try XCTUnwrap(harness)
        let first = try Self.remainingTTL(try cluster.etcdctl(["lease", "timetolive", lease, "-w", "json"], on: [cluster.nodes[0]]))
        Thread.sleep(forTimeInterval: Self.countDownCheckSeconds)
        let later = try Self.remainingTTL(try cluster.etcdctl(["lease", "timetolive", lease, "-w", "json"], on: [cluster.nodes[0]]))
        XCTAssertLessThan(later, first, "the remaining TTL did not count down in \(Self.countDownCheckSeconds) s")
        XCTAssertGreaterThan(later, 0, "a lease of 120 s renewed moments ago has not run out")
    }

    /// Long enough that a remaining TTL in whole seconds must drop by at least one.
    static let countDownCheckSeconds = 2.0

    private static func remainingTTL(_ result: ClusterCommandResult) throws -> Int64 {
        let object = try XCTUnwrap(
            try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], result.transcript)
        return try XCTUnwrap((object["ttl"] as? NSNumber)?.int64Value, result.transcript)
    }

    /// Needs kvd's Watch service: watches of history, prevKV, ranges, the compacted error, the
    /// `-- command` form, and lock/elect commands that end by themselves.
    func testWatchLockAndElectCommandsPrintWhatTheyPrintAgainstEtcd() throws {
        _ = try runSection("watch")
    }

    /// Hash, HashKV (at a revision, compacted, future), alarm list and disarm, defrag and move-leader.
    func testMaintenanceCommandsPrintWhatTheyPrintAgainstEtcd() throws {
        let (outputs, _) = try runSection("maintenance")
        // Beyond the golden comparison: the last move-leader ("... from A to B") left B leading.
        let cluster = try XCTUnwrap(harness)
        let last = try XCTUnwrap(outputs["move-leader"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let target = try XCTUnwrap(last.split(separator: " ").last.map(String.init), last)
        XCTAssertEqual(try Self.memberID(leader: true, cluster), target, "move-leader did not leave its target leading")
    }

    /// Member add (as a learner, as a voter), list, promote (refused: the learner's peer URL is
    /// dead, so it never catches up; a voter), update, remove, and etcd's refusals: unknown ids,
    /// peer URLs in use, a second learner, bad arguments. Run on its own with
    /// `swift test --skip-build --filter EtcdctlCompatibilityTests/testMemberCommandsPrintWhatTheyPrintAgainstEtcd`.
    func testMemberCommandsPrintWhatTheyPrintAgainstEtcd() throws {
        let (outputs, _) = try runSection("member")
        // Beyond the golden comparison: what the section added, it removed, except the learner
        // that `add-table` added before refusing to print (etcdctl makes the change first).
        let cluster = try XCTUnwrap(harness)
        let list = try cluster.etcdctl(["member", "list"], on: [cluster.nodes[0]])
        XCTAssertTrue(list.succeeded, list.transcript)
        let lines = list.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 4, list.stdout)
        XCTAssertEqual(lines.filter { $0.hasSuffix(", true") && $0.contains("http://127.0.0.1:19007") }.count, 1, list.stdout)
        for name in ["add-learner", "add-learner-json", "add-voter"] {
            let command = try XCTUnwrap(try EtcdctlFixtures.load().commands.first { $0.section == "member" && $0.name == name })
            let id = try XCTUnwrap(command.addedMember(stdout: try XCTUnwrap(outputs[name]).stdout), "\(name) added no member")
            XCTAssertFalse(list.stdout.contains(id), "\(name)'s member \(id) is still listed:\n\(list.stdout)")
        }
    }

    /// Every command of commands.txt has its recorded answer, so a new command cannot go unchecked.
    func testEveryCommandHasARecordedAnswer() throws {
        let fixtures = try EtcdctlFixtures.load()
        XCTAssertEqual(
            Set(fixtures.sections), ["kv", "cluster", "errors", "lease", "watch", "maintenance", "member"],
            "a new section needs its own test method here")
        for command in fixtures.commands {
            XCTAssertNoThrow(try fixtures.golden(command), "\(command.section)/\(command.name) has no golden output")
        }
        XCTAssertEqual(Set(fixtures.goldenAddresses.values).count, 6, "three nodes, client and peer address each")
    }

    /// Runs one section on a fresh cluster and compares every command with etcd's answer. Returns
    /// the raw outputs by command name and the section's base revision.
    private func runSection(_ section: String) throws -> ([String: ClusterCommandResult], Int64) {
        let fixtures = try EtcdctlFixtures.load()
        let commands = fixtures.commands.filter { $0.section == section }
        XCTAssertFalse(commands.isEmpty, "no commands in section [\(section)]")

        let cluster = try ClusterHarness(nodesCount: 3, binaries: try ClusterBinaries.locate(), testName: name)
        harness = cluster
        try cluster.startAll()
        _ = try cluster.waitForLeader(timeLimitSeconds: Self.electionTimeLimitSeconds)
        let base = try baseRevision(cluster)
        // `{not-before:…}` counts from here, as the recorder counts from the cluster's first answer.
        let answeredAt = ContinuousClock.now
        let goldenBase = try XCTUnwrap(fixtures.goldenBaseRevisions[section], "golden/recording.txt: no base revision for [\(section)]")
        XCTAssertEqual(base, goldenBase, "\(section): a fresh kvd cluster is not at the revision a fresh etcd cluster was at")

        var ourAddresses: [String: String] = [:]
        for node in cluster.nodes {
            ourAddresses[node.clientAddress] = "{\(node.name).client}"
            ourAddresses["127.0.0.1:\(node.peerPort)"] = "{\(node.name).peer}"
        }
        var ours = EtcdctlNormalizer(addresses: ourAddresses, baseRevision: base)
        var theirs = EtcdctlNormalizer(addresses: fixtures.goldenAddresses, baseRevision: goldenBase)

        var outputs: [String: ClusterCommandResult] = [:]
        // The leases this run's grants got and the members its adds added, by command name, for
        // `{lease:NAME}` and `{member:NAME}`.
        var leases: [String: String] = [:]
        var members: [String: String] = [:]
        for command in commands {
            if let seconds = command.notBeforeSeconds {
                let wait = ContinuousClock.now.duration(to: answeredAt.advanced(by: .seconds(seconds)))
                if wait > .zero { Thread.sleep(forTimeInterval: Double(wait / .milliseconds(1)) / 1000) }
            }
            let arguments: [String]
            let stdin: Data?
            do {
                (arguments, stdin) = try command.expanded(
                    baseRevision: base, leases: leases, members: members, fixtures: EtcdctlFixtures.directory,
                    memberID: { try Self.memberID(leader: $0, cluster) })
            } catch {
                // An earlier command that should have granted a lease or added a member did not
                // (its own comparison failed): this one fails too, and the rest of the section still runs.
                XCTFail("\(section)/\(command.name): \(error)")
                continue
            }
            let targets = command.usesAllEndpoints ? cluster.nodes : [cluster.nodes[0]]
            let result = try cluster.etcdctl(
                ["--command-timeout=\(Self.commandTimeout)"] + arguments, on: targets, stdin: stdin,
                timeLimitSeconds: command.stopAfterSeconds ?? ClusterHarness.commandTimeLimitSeconds,
                interruptAtLimit: command.stopAfterSeconds != nil)
            outputs[command.name] = result
            if let lease = command.grantedLease(stdout: result.stdout) { leases[command.name] = lease }
            if let member = command.addedMember(stdout: result.stdout) { members[command.name] = member }
            let golden = try fixtures.golden(command)
            let expected = theirs.normalize(command, stdout: golden.stdout, stderr: golden.stderr, status: golden.status)
            let actual = ours.normalize(command, stdout: result.stdout, stderr: result.stderr, status: result.status ?? -1)
            XCTAssertEqual(
                actual, expected,
                "\(section)/\(command.name): etcdctl \(command.tokens.joined(separator: " ")) printed something else "
                    + "against kvd than against etcd.\n=== against kvd (normalized)\n\(actual)\n=== against etcd (normalized)\n\(expected)")
        }
        return (outputs, base)
    }

    /// The hex member id of the leader or of a follower, as `{leader-id}` and `{follower-id}` name them.
    static func memberID(leader: Bool, _ cluster: ClusterHarness) throws -> String {
        let result = try cluster.etcdctl(["endpoint", "status", "-w", "json"], on: cluster.nodes)
        guard result.succeeded, let entries = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] else {
            throw ClusterTestError("cannot read the members' status: \(result.transcript)")
        }
        for entry in entries {
            guard let status = entry["Status"] as? [String: Any], let header = status["header"] as? [String: Any],
                let member = (header["member_id"] as? NSNumber)?.uint64Value
            else { continue }
            let leads = (status["leader"] as? NSNumber)?.uint64Value == member
            if leads == leader { return String(member, radix: 16) }
        }
        throw ClusterTestError("no \(leader ? "leader" : "follower") among the members: \(result.stdout)")
    }

    /// The revision of the fresh cluster: the base of `{rev+N}`. Go's JSON leaves out a zero.
    private func baseRevision(_ cluster: ClusterHarness) throws -> Int64 {
        let probe = try cluster.etcdctl(["get", "keel-golden-probe", "-w", "json"], on: [cluster.nodes[0]])
        guard probe.succeeded, let object = try? JSONSerialization.jsonObject(with: Data(probe.stdout.utf8)) as? [String: Any],
            let header = object["header"] as? [String: Any]
        else { throw ClusterTestError("cannot read the cluster's revision: \(probe.transcript)\n\(cluster.logTails())") }
        return (header["revision"] as? NSNumber)?.int64Value ?? 0
    }
}
