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
        let (command, golden, normalizer) = try fixture("cluster", "member-list")
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
        let (command, golden, normalizer) = try fixture("cluster", "endpoint-status-table")
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
        let (command, golden, normalizer) = try fixture("kv", "get-prefix-json")
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
        let (command, golden, etcdNormalizer) = try fixture("kv", "get-json")
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
        let (command, golden, normalizer) = try fixture("errors", "put-empty-key")
        let original = normalizer.normalize(command, stdout: golden.stdout, stderr: golden.stderr, status: golden.status)
        XCTAssertTrue(original.stderr.contains("\"ts\":\"<ts>\""), original.stderr)
        XCTAssertTrue(original.stderr.contains("code = InvalidArgument desc = etcdserver: key is not provided"), original.stderr)
        let otherCode = golden.stderr.replacingOccurrences(of: "code = InvalidArgument", with: "code = Unknown")
        XCTAssertNotEqual(otherCode, golden.stderr)
        XCTAssertNotEqual(normalizer.normalize(command, stdout: golden.stdout, stderr: otherCode, status: golden.status), original)
        XCTAssertNotEqual(normalizer.normalize(command, stdout: golden.stdout, stderr: golden.stderr, status: 0), original)
    }
}
