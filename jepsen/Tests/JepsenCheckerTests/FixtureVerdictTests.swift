import Foundation
import XCTest

@testable import JepsenChecker

/// Every history in the shared fixtures must get the verdict its origin's test suite asserts.
final class FixtureVerdictTests: XCTestCase {
    /// Knossos's own tests assert these verdicts; the count guards against a truncated table.
    func testEveryFixtureGetsItsExpectedVerdict() throws {
        let directory = fixturesDirectory()
        let tablePath = directory.appendingPathComponent("expected.tsv").path
        guard FileManager.default.fileExists(atPath: tablePath) else {
            XCTFail("fixtures missing: \(tablePath) (set KEEL_FIXTURES or check out shared/ next to the repository)")
            return
        }
        let table = try String(contentsOfFile: tablePath, encoding: .utf8)
        let rows = table.split(separator: "\n").dropFirst().map { $0.split(separator: "\t").map(String.init) }
        XCTAssertEqual(rows.count, 121, "expected.tsv should list 121 histories")
        var failures: [String] = []
        var invalidSeen = 0
        for row in rows {
            XCTAssertEqual(row.count, 4, "malformed row \(row)")
            guard row.count == 4 else { continue }
            do {
                let text = try String(contentsOf: directory.appendingPathComponent(row[0]), encoding: .utf8)
                let result = try ModelCatalog.check(
                    try History(text: text), model: row[1], initial: try EDNReader.parse(row[2]), timeLimit: .seconds(60))
                let expected: Verdict = row[3] == "true" ? .valid : .invalid
                if result.verdict != expected {
                    failures.append("\(row[0]): expected \(expected.rawValue), got \(result.verdict.rawValue)")
                }
                if result.verdict == .invalid {
                    invalidSeen += 1
                    XCTAssertNotNil(result.firstInvalidPartition?.failingOperationID, "\(row[0]) has no failing operation")
                }
            } catch {
                failures.append("\(row[0]): \(error)")
            }
        }
        XCTAssertEqual(failures, [], "fixtures with the wrong verdict")
        XCTAssertEqual(invalidSeen, 7)
    }
}
