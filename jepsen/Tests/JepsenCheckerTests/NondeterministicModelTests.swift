import XCTest

@testable import JepsenChecker

/// Models may answer with several possible next states; the search must try each before giving up.
final class NondeterministicModelTests: XCTestCase {
    /// A counter whose `inc` adds 1 or 2 (unknown which); `read` returns the count.
    private struct SloppyCounter: Model {
        var name: String { "sloppy-counter" }
        var initialState: Int { 0 }

        func step(_ state: Int, _ operation: HistoryOperation) -> Step<Int> {
            switch operation.f {
            case "inc": return .oneOf([state + 1, state + 2])
            case "read":
                guard let seen = operation.output else { return .legal(state) }
                return seen == .int(state) ? .legal(state) : .illegal
            default: return .illegal
            }
        }

        func rejection(of operation: HistoryOperation) -> String? {
            operation.f == "inc" || operation.f == "read" ? nil : "unknown :\(operation.f)"
        }
    }

    private func history(reads: [Int]) -> String {
        var lines: [String] = []
        for seen in reads {
            lines.append("{:process 0 :type :invoke :f :inc :value nil}")
            lines.append("{:process 0 :type :ok :f :inc :value nil}")
            lines.append("{:process 1 :type :invoke :f :read :value nil}")
            lines.append("{:process 1 :type :ok :f :read :value \(seen)}")
        }
        return lines.joined(separator: "\n")
    }

    func testSecondAlternativeIsTriedAfterTheFirstFails() throws {
        XCTAssertEqual(try check(history(reads: [2]), SloppyCounter()).verdict, .valid, "inc took +2")
        XCTAssertEqual(try check(history(reads: [1, 3, 4, 6]), SloppyCounter()).verdict, .valid)
    }

    func testNoAlternativeExplainsAnImpossibleRead() throws {
        let result = try check(history(reads: [2, 5]), SloppyCounter())
        XCTAssertEqual(result.verdict, .invalid, "two increments reach at most 4")
        XCTAssertEqual(result.firstInvalidPartition?.failingOperationID, 3)
        XCTAssertEqual(Set(result.firstInvalidPartition?.possibleStates ?? []), ["3", "4"], "the first read pins 2, the second inc adds 1 or 2")
    }
}
