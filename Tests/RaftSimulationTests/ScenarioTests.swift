import Foundation
import RaftSimulation
import XCTest

/// Runs every script in Scenarios/ and compares its trace with the expected one.
/// `KEEL_REWRITE_SCENARIOS=1 swift test --filter ScenarioTests` regenerates the expected traces
/// (review the diff by eye: the traces must show the right behaviour).
final class ScenarioTests: XCTestCase {
    private static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scenarios")

    private func check(_ name: String) throws {
        let url = Self.directory.appendingPathComponent(name + ".txt")
        let text = try String(contentsOf: url, encoding: .utf8)
        let blocks = try Scenario.parse(text)
        XCTAssertFalse(blocks.isEmpty, "\(name) has commands")
        let actual = try Scenario.run(blocks)
        if ProcessInfo.processInfo.environment["KEEL_REWRITE_SCENARIOS"] == "1" {
            try Scenario.render(actual).write(to: url, atomically: true, encoding: .utf8)
            return
        }
        for (want, got) in zip(blocks, actual) where want.expected != got.expected {
            XCTFail("\(name): '\(want.command)'\n--- expected\n\(want.expected.joined(separator: "\n"))\n--- actual\n\(got.expected.joined(separator: "\n"))")
            return
        }
    }

    func testFigure8() throws { try check("figure8") }
    func testPartitionedLeaderRefusesStaleReads() throws { try check("partitioned_leader_reads") }
    func testPreVoteKeepsRejoiningNodeFromRaisingTerms() throws { try check("prevote_rejoin") }
    func testJointConsensusWithFailureInTheMiddle() throws { try check("joint_consensus_failure") }
    func testSnapshotCatchUp() throws { try check("snapshot_catchup") }
    func testLeaderTransferToLaggingNode() throws { try check("transfer_lagging") }

    func testEveryScenarioFileHasATest() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter { $0.hasSuffix(".txt") }.sorted()
        XCTAssertEqual(files, [
            "figure8.txt", "joint_consensus_failure.txt", "partitioned_leader_reads.txt", "prevote_rejoin.txt",
            "snapshot_catchup.txt", "transfer_lagging.txt",
        ])
    }

    func testAChangedExpectationIsReported() throws {
        let script = "add-nodes 3\n----\nwrong\n"
        let blocks = try Scenario.parse(script)
        let actual = try Scenario.run(blocks)
        XCTAssertNotEqual(blocks[0].expected, actual[0].expected)
        XCTAssertTrue(actual[0].expected.contains { $0.hasPrefix("1 is follower term=1") })
    }
}
