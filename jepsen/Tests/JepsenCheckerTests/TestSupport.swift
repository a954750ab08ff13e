import Foundation
import XCTest

@testable import JepsenChecker

/// Where the shared fixtures live: `KEEL_FIXTURES` if set, else `../shared/fixtures/histories`
/// next to the repository root (this file is jepsen/Tests/JepsenCheckerTests/TestSupport.swift).
func fixturesDirectory(file: StaticString = #filePath) -> URL {
    if let fromEnvironment = ProcessInfo.processInfo.environment["KEEL_FIXTURES"] {
        return URL(fileURLWithPath: fromEnvironment)
    }
    let repositoryRoot = URL(fileURLWithPath: "\(file)")
        .deletingLastPathComponent()  // JepsenCheckerTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // jepsen
        .deletingLastPathComponent()  // repository root
    return repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures/histories")
}

/// Parses and pairs an EDN or JSONL history written inline in a test.
func history(_ text: String) throws -> History {
    try History(text: text)
}

/// Checks inline EDN against a model and returns the result.
func check<M: Model>(_ text: String, _ model: M, timeLimit: Duration? = nil) throws -> CheckResult {
    try Checker.check(try History(text: text), model: model, timeLimit: timeLimit)
}

/// Runs `body`, expecting a `HistoryError`, and returns it (failing the test if none is thrown).
func expectHistoryError(
    _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line
) -> HistoryError? {
    do {
        try body()
        XCTFail("expected a HistoryError", file: file, line: line)
    } catch let error as HistoryError {
        return error
    } catch {
        XCTFail("expected a HistoryError, got \(error)", file: file, line: line)
    }
    return nil
}

/// SplitMix64: a seeded generator, so each seed gives the same history on every platform and a
/// failure names the seed that reproduces it.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
