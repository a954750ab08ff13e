import Foundation
import XCTest

/// The normalization hides only what may differ between two correct clusters: it must not make a
/// wrong value, revision, error code or exit status compare equal.
final class EtcdctlNormalizerTests: XCTestCase {
    private func fixture(_ section: String, _ name: String) throws -> (EtcdctlFixtureCommand, EtcdctlGolden, EtcdctlNormalizer) {
        let fixtures = try EtcdctlFixtures.load()
        let command = try XCTUnwrap(fixtures.commands.first { $0.section == section && $0.name == name })
        return (command, try fixtures.golden(command), EtcdctlNormalizer(addresses: fixtures.goldenAddresses, baseRevision: 1))
    }

    func testIdsTermsAndAddressesAreReplacedAndMembersSortedByName() throws {
        let (command, golden, fresh) = try fixture("cluster", "member-list")
        var normalizer = fresh
        let normalized = normalizer.normalize(command, stdout: golden.stdout, stderr: golden.stderr, status: golden.status)
        XCTAssertEqual(
            normalized.stdout,
            """
            <id>, started, node1, http://{node1.peer}, http://{node1.client}, false
            <id>, started, node2, http://{node2.peer}, http://{node2.client}, false
            <id>, started, node3, http://{node3.peer}, http://{node3.client}, false
            """)
    }

    func testTablesCompareEqualWhateverTheIdWidth() throws {
        let (command, golden, fresh) = try fixture("cluster", "endpoint-status-table")
        var normalizer = fresh
        // Another cluster's ids may be shorter (etcd prints them in hex without padding): every
        // column narrows.
        let narrow = golden.stdout
            .replacingOccurrences(of: #"\| [ 0-9a-f]{16} \|"#, with: "| 1 |", options: .regularExpression)
            .replacingOccurrences(of: "+------------------+", with: "+---+")
            .replacingOccurrences(of: "|        ID        |", with: "| ID |")
        XCTAssertNotEqual(narrow, golden.stdout)
        XCTAssertEqual(
            normalizer.normalize(command, stdout: narrow, stderr: golden.stderr, status: golden.status),
            normalizer.normalize(command, stdout: golden.stdout, stderr: golden.stderr, status: golden.status))
    }

    func testAValueOrRevisionThatDiffersStillDiffers() throws {
        let (command, golden, fresh) = try fixture("kv", "get-prefix-json")
        var normalizer = fresh
        let original = normalizer.normalize(command, stdout: golden.stdout, stderr: golden.stderr, status: golden.status)
        let otherValue = golden.stdout.replacingOccurrences(of: "\"YmFyMQ==\"", with: "\"YmFyOQ==\"")
        let otherRevision = golden.stdout.replacingOccurrences(of: "\"mod_revision\":3", with: "\"mod_revision\":4")
        let otherClusterID = golden.stdout.replacingOccurrences(
            of: #""cluster_id":[0-9]+"#, with: "\"cluster_id\":42", options: .regularExpression)
        XCTAssertNotEqual(otherValue, golden.stdout)
        XCTAssertNotEqual(otherRevision, golden.stdout)
        XCTAssertNotEqual(otherClusterID, golden.stdout)
        XCTAssertNotEqual(normalizer.normalize(command, stdout: otherValue, stderr: "", status: 0), original)
        XCTAssertNotEqual(normalizer.normalize(command, stdout: otherRevision, stderr: "", status: 0), original)
        XCTAssertEqual(normalizer.normalize(command, stdout: otherClusterID, stderr: "", status: 0), original)
        XCTAssertTrue(original.stdout.contains("\"mod_revision\":\"rev+2\""), original.stdout)
    }

    func testRevisionsAreRelativeToTheSectionsFreshCluster() throws {
        let (command, golden, fresh) = try fixture("kv", "get-json")
        var etcdNormalizer = fresh
        // A server whose fresh cluster starts one revision lower prints every revision one lower.
        var shifted = etcdNormalizer
        shifted.baseRevision = 0
        let lower = golden.stdout.replacingOccurrences(of: #""(revision|create_revision|mod_revision)":([0-9]+)"#, with: "\"$1\":R$2", options: .regularExpression)
        var text = lower
        for match in ["R8": "7", "R2": "1"] { text = text.replacingOccurrences(of: match.key, with: match.value) }
        XCTAssertEqual(
            shifted.normalize(command, stdout: text, stderr: "", status: 0),
            etcdNormalizer.normalize(command, stdout: golden.stdout, stderr: "", status: 0))
    }

    func testClientLogLinesKeepTheErrorCodeAndMessage() throws {
        let (command, golden, fresh) = try fixture("errors", "put-empty-key")
        var normalizer = fresh
        let original = normalizer.normalize(command, stdout: golden.stdout, stderr: golden.stderr, status: golden.status)
        XCTAssertTrue(original.stderr.contains("\"ts\":\"<ts>\""), original.stderr)
        XCTAssertTrue(original.stderr.contains("code = InvalidArgument desc = etcdserver: key is not provided"), original.stderr)
        let otherCode = golden.stderr.replacingOccurrences(of: "code = InvalidArgument", with: "code = Unknown")
        XCTAssertNotEqual(otherCode, golden.stderr)
        XCTAssertNotEqual(normalizer.normalize(command, stdout: golden.stdout, stderr: otherCode, status: golden.status), original)
        XCTAssertNotEqual(normalizer.normalize(command, stdout: golden.stdout, stderr: golden.stderr, status: 0), original)
    }

    // MARK: leases

    /// The golden outputs of the lease section's commands up to and including `last`, normalized
    /// in order by one normalizer, with `edit` applied to the raw stdout of the command it names.
    private func leaseSection(
        through last: String, editing name: String? = nil, _ edit: (String) -> String = { $0 }
    ) throws -> [String: EtcdctlNormalized] {
        let fixtures = try EtcdctlFixtures.load()
        var normalizer = EtcdctlNormalizer(addresses: fixtures.goldenAddresses, baseRevision: 1)
        var result: [String: EtcdctlNormalized] = [:]
        for command in fixtures.commands where command.section == "lease" {
            let golden = try fixtures.golden(command)
            let stdout = command.name == name ? edit(golden.stdout) : golden.stdout
            result[command.name] = normalizer.normalize(command, stdout: stdout, stderr: golden.stderr, status: golden.status)
            if command.name == last { return result }
        }
        XCTFail("no command \(last) in [lease]")
        return result
    }

    func testLeaseIDsBecomeTheSamePlaceholderInHexAndInJSON() throws {
        let normalized = try leaseSection(through: "get-leased-json")
        XCTAssertEqual(try XCTUnwrap(normalized["grant-a"]).stdout, "lease <lease1> granted with TTL(60s)\n")
        XCTAssertTrue(try XCTUnwrap(normalized["grant-b"]).stdout.contains(#""ID":"<lease2>""#), "\(normalized["grant-b"]!)")
        let kvs = try XCTUnwrap(normalized["get-leased-json"]).stdout
        XCTAssertEqual(
            kvs.components(separatedBy: #""lease":""#).dropFirst().map { $0.prefix(8) }, ["<lease1>", "<lease1>", "<lease2>"], kvs)
    }

    /// The leases the recording's grant-a and grant-b got, in hex and in decimal.
    private func recordedLeases() throws -> (a: String, b: String, aDecimal: String, bDecimal: String) {
        let fixtures = try EtcdctlFixtures.load()
        func lease(_ name: String) throws -> String {
            let command = try XCTUnwrap(fixtures.commands.first { $0.section == "lease" && $0.name == name })
            return try XCTUnwrap(command.grantedLease(stdout: try fixtures.golden(command).stdout), "\(name) granted no lease")
        }
        let (a, b) = (try lease("grant-a"), try lease("grant-b"))
        return (a, b, String(try XCTUnwrap(Int64(a, radix: 16))), String(try XCTUnwrap(Int64(b, radix: 16))))
    }

    func testAKeyOnTheWrongLeaseStillDiffers() throws {
        let leases = try recordedLeases()
        let golden = try leaseSection(through: "get-leased-json")
        // lk3 ("djM=" is its value) attached to grant-a's lease instead of grant-b's.
        let wrong = try leaseSection(through: "get-leased-json", editing: "get-leased-json") { text in
            text.replacingOccurrences(of: #""value":"djM=","lease":"# + leases.bDecimal, with: #""value":"djM=","lease":"# + leases.aDecimal)
        }
        XCTAssertNotEqual(wrong["get-leased-json"], golden["get-leased-json"])
        XCTAssertEqual(wrong["grant-b"], golden["grant-b"])
    }

    func testARemainingTTLComparesEqualOnlyWithinTheWindowBelowTheGrantedOne() throws {
        let golden = try XCTUnwrap(try leaseSection(through: "timetolive")["timetolive"])
        XCTAssertEqual(golden.stdout, "lease <lease1> granted with TTL(60s), remaining(<remaining>)\n")
        for (remaining, equal) in [(60, true), (55, true), (50, true), (49, false), (61, false), (0, false), (59_000, false)] {
            let edited = try XCTUnwrap(
                try leaseSection(through: "timetolive", editing: "timetolive") {
                    $0.replacingOccurrences(of: #"remaining\([0-9]+s\)"#, with: "remaining(\(remaining)s)", options: .regularExpression)
                }["timetolive"])
            XCTAssertEqual(edited == golden, equal, "remaining \(remaining)s of 60s: \(edited.stdout)")
        }
        let json = try XCTUnwrap(try leaseSection(through: "timetolive-json")["timetolive-json"])
        XCTAssertTrue(json.stdout.contains(#""ttl":"<remaining>""#), json.stdout)
        let wrongGranted = try XCTUnwrap(
            try leaseSection(through: "timetolive-json", editing: "timetolive-json") {
                $0.replacingOccurrences(of: #""granted-ttl":120"#, with: #""granted-ttl":119"#)
            }["timetolive-json"])
        XCTAssertNotEqual(wrongGranted, json, "the granted TTL is compared as printed")
    }

    func testAttachedKeysAndLeaseListsCompareEqualInAnyOrderButNotWithOthers() throws {
        let leases = try recordedLeases()
        let golden = try leaseSection(through: "list-json")
        func keys(_ list: String) throws -> EtcdctlNormalized? {
            try leaseSection(through: "timetolive-keys", editing: "timetolive-keys") {
                $0.replacingOccurrences(of: #"attached keys\(\[[^\]]*\]\)"#, with: "attached keys([\(list)])", options: .regularExpression)
            }["timetolive-keys"]
        }
        XCTAssertEqual(try keys("lk1 lk2"), golden["timetolive-keys"])
        XCTAssertEqual(try keys("lk2 lk1"), golden["timetolive-keys"])
        XCTAssertNotEqual(try keys("lk1"), golden["timetolive-keys"])
        XCTAssertNotEqual(try keys("lk1 lk3"), golden["timetolive-keys"])
        func list(_ ids: [String]) throws -> EtcdctlNormalized? {
            try leaseSection(through: "list", editing: "list") { _ in "found \(ids.count) leases\n" + ids.map { $0 + "\n" }.joined() }["list"]
        }
        XCTAssertEqual(try XCTUnwrap(golden["list"]).stdout, "found 2 leases\n<lease1>\n<lease2>")
        XCTAssertEqual(try list([leases.a, leases.b]), golden["list"])
        XCTAssertEqual(try list([leases.b, leases.a]), golden["list"])
        XCTAssertNotEqual(try list([leases.a]), golden["list"])
        XCTAssertNotEqual(try list([leases.a, "0000000000001234"]), golden["list"], "a lease the section never granted is a new placeholder")
    }

    // MARK: members

    /// The golden outputs of the member section up to and including `last`, normalized in order by
    /// one normalizer, with `edit` applied to the raw stdout of the command it names.
    private func memberSection(
        through last: String, editing name: String? = nil, _ edit: (String) -> String = { $0 }
    ) throws -> [String: EtcdctlNormalized] {
        let fixtures = try EtcdctlFixtures.load()
        var normalizer = EtcdctlNormalizer(addresses: fixtures.goldenAddresses, baseRevision: 1)
        var result: [String: EtcdctlNormalized] = [:]
        for command in fixtures.commands where command.section == "member" {
            let golden = try fixtures.golden(command)
            let stdout = command.name == name ? edit(golden.stdout) : golden.stdout
            result[command.name] = normalizer.normalize(command, stdout: stdout, stderr: golden.stderr, status: golden.status)
            if command.name == last { return result }
        }
        XCTFail("no command \(last) in [member]")
        return result
    }

    /// The id (hex) of the member the recording's command `name` added.
    private func recordedMember(_ name: String) throws -> String {
        let fixtures = try EtcdctlFixtures.load()
        let command = try XCTUnwrap(fixtures.commands.first { $0.section == "member" && $0.name == name })
        return try XCTUnwrap(command.addedMember(stdout: try fixtures.golden(command).stdout), "\(name) added no member")
    }

    func testAnAddedMemberIsNamedAfterItsAddWhereverItsIdShows() throws {
        let normalized = try memberSection(through: "remove-json")
        let add = try XCTUnwrap(normalized["add-learner"]).stdout
        XCTAssertTrue(add.hasPrefix("Member <member:add-learner> added to cluster <id>\n"), add)
        XCTAssertTrue(add.contains(#"ETCD_INITIAL_CLUSTER="learner1=http://{unknown-address 127.0.0.1:19001},node1="#), add)
        XCTAssertTrue(try XCTUnwrap(normalized["list"]).stdout.contains("<member:add-learner>, unstarted, , "), "\(normalized["list"]!)")
        XCTAssertTrue(try XCTUnwrap(normalized["list-table"]).stdout.contains("<member:add-learner> | unstarted"), "\(normalized["list-table"]!)")
        XCTAssertTrue(try XCTUnwrap(normalized["list-json"]).stdout.contains(#""ID":"<member:add-learner>""#), "\(normalized["list-json"]!)")
        XCTAssertEqual(try XCTUnwrap(normalized["remove-learner"]).stdout, "Member <member:add-learner> removed from cluster <id>\n")
        XCTAssertTrue(try XCTUnwrap(normalized["add-learner-json"]).stdout.contains(#""member":{"ID":"<member:add-learner-json>""#))
    }

    func testRemovingAnotherMemberThanTheOneAddedStillDiffers() throws {
        let added = try recordedMember("add-learner")
        let golden = try memberSection(through: "remove-learner")
        // Another member (one of the three started ones, or one the section never added) removed instead.
        for other in ["1118554b72780e52", "abc"] {
            let wrong = try memberSection(through: "remove-learner", editing: "remove-learner") {
                $0.replacingOccurrences(of: "Member \(added)", with: "Member \(String(repeating: " ", count: 16 - other.count))\(other)")
            }
            XCTAssertNotEqual(try XCTUnwrap(wrong["remove-learner"]).stdout, try XCTUnwrap(golden["remove-learner"]).stdout, other)
        }
    }

    func testTheInitialClusterComparesEqualInAnyOrderButNotWithOtherPairs() throws {
        let golden = try XCTUnwrap(try memberSection(through: "add-learner")["add-learner"])
        func edited(_ replacement: String) throws -> EtcdctlNormalized {
            try XCTUnwrap(
                try memberSection(through: "add-learner", editing: "add-learner") {
                    $0.replacingOccurrences(
                        of: #"ETCD_INITIAL_CLUSTER="[^"]*""#, with: "ETCD_INITIAL_CLUSTER=\"\(replacement)\"", options: .regularExpression)
                }["add-learner"])
        }
        let pairs = [
            "node1=http://127.0.0.1:41012", "learner1=http://127.0.0.1:19001", "node2=http://127.0.0.1:41022", "node3=http://127.0.0.1:41032",
        ]
        XCTAssertEqual(try edited(pairs.joined(separator: ",")), golden)
        XCTAssertEqual(try edited(pairs.reversed().joined(separator: ",")), golden)
        XCTAssertNotEqual(try edited(pairs.dropLast().joined(separator: ",")), golden, "a member left out")
        XCTAssertNotEqual(
            try edited(pairs.map { $0.replacingOccurrences(of: "learner1=", with: "=") }.joined(separator: ",")), golden,
            "the new member not under the name given")
    }
}
