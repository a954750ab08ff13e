import Foundation
import Raft
import XCTest

@testable import KeelStorage

/// Kills a real writer process with SIGKILL at random moments and checks, after each kill, that
/// every append it reported as synced survived, the log has no holes, and the state machine agrees
/// with its applied index.
final class CrashSafetyTests: XCTestCase {
    /// How many times the writer is killed.
    private let killsCount = 24
    /// Must match `keysCount` in Sources/storage-crash-writer/main.swift.
    private let keysCount: UInt64 = 50
    private let startupTimeoutSeconds = 20.0

    /// `swift test` builds every executable product next to the test bundle.
    private func writerExecutable() throws -> URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle.main.bundleURL.deletingLastPathComponent(),
            Bundle.main.bundleURL,
        ]
        for directory in candidates {
            let url = directory.appendingPathComponent("storage-crash-writer")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        XCTFail("storage-crash-writer not found next to the test bundle in \(candidates.map(\.path)); run `swift test`, which builds it")
        throw StorageError(.io, "storage-crash-writer not found")
    }

    func testEverySyncedAppendSurvivesSIGKILL() throws {
        let executable = try writerExecutable()
        let directory = makeTemporaryDirectory(self) + "/node"
        let outputPath = makeTemporaryDirectory(self, "output") + "/stdout"
        var generator = SystemRandomNumberGenerator()
        var highestReported: UInt64 = 0
        var appliedSeen = Set<UInt64>()

        for kill in 1...killsCount {
            XCTAssertTrue(FileManager.default.createFile(atPath: outputPath, contents: nil))
            let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
            let process = Process()
            process.executableURL = executable
            process.arguments = [directory]
            process.standardOutput = output
            try process.run()
            // Let it get going, then kill it at a random moment.
            let deadline = Date().addingTimeInterval(startupTimeoutSeconds)
            while (try? Data(contentsOf: URL(fileURLWithPath: outputPath)).count) ?? 0 == 0 {
                guard process.isRunning else {
                    return XCTFail("kill \(kill): writer exited early with status \(process.terminationStatus)")
                }
                guard Date() < deadline else {
                    process.terminate()
                    return XCTFail("kill \(kill): writer printed nothing within \(startupTimeoutSeconds) s")
                }
                usleep(2_000)
            }
            usleep(UInt32.random(in: 5_000...150_000, using: &generator))
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            try output.close()
            XCTAssertEqual(process.terminationReason, .uncaughtSignal)

            let printed = try String(contentsOfFile: outputPath, encoding: .utf8)
            let reported = printed.split(separator: "\n", omittingEmptySubsequences: true).compactMap { UInt64($0) }
            XCTAssertFalse(reported.isEmpty)
            highestReported = max(highestReported, reported.max() ?? 0)

            let storage = try NodeStorage(directory: directory)  // checks holes and terms
            let log = storage.log
            let machine = storage.stateMachine
            XCTAssertGreaterThanOrEqual(log.lastIndex.rawValue, highestReported, "kill \(kill): a synced append was lost")
            XCTAssertGreaterThanOrEqual(log.hardState.commit.rawValue, highestReported, "kill \(kill): a synced hard state was lost")
            XCTAssertLessThanOrEqual(machine.appliedIndex, log.hardState.commit)
            // Each entry is one Put, so the revision counts applied entries exactly (from the fresh
            // store's revision 1).
            XCTAssertEqual(machine.revision - KVStateMachine.initialRevision, Int64(machine.appliedIndex.rawValue), "kill \(kill): data and applied index disagree")
            try assertState(machine, matchesAppliedIndex: machine.appliedIndex.rawValue, kill: kill)
            let entries = try log.entries(from: log.firstIndex, to: log.lastIndex.advanced(by: 1))
            XCTAssertEqual(entries.first?.index, log.firstIndex)
            XCTAssertEqual(entries.last?.index, log.lastIndex)
            appliedSeen.insert(machine.appliedIndex.rawValue)
            print("crash \(kill): killed after reporting \(reported.count) appends; log \(log.firstIndex)...\(log.lastIndex), applied \(machine.appliedIndex)")
        }
        XCTAssertGreaterThan(highestReported, UInt64(killsCount), "the writer made progress between kills")
    }

    /// Key `k<j>` must hold `v<i>` for the largest applied `i` with `i % keysCount == j`.
    private func assertState(_ machine: KVStateMachine, matchesAppliedIndex applied: UInt64, kill: Int) throws {
        let all = try machine.range(RangeRequest(key: bytes("k"), rangeEnd: bytes("l")))
        var actual: [String: String] = [:]
        for kv in all.kvs { actual[text(kv.key)] = text(kv.value) }
        var expected: [String: String] = [:]
        for index in stride(from: applied, to: applied > keysCount ? applied - keysCount : 0, by: -1) {
            let key = "k\(index % keysCount)"
            if expected[key] == nil { expected[key] = "v\(index)" }
        }
        XCTAssertEqual(actual, expected, "kill \(kill): state does not match applied index \(applied)")
    }
}
