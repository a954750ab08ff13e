import Foundation
import XCTest

/// Runs the built `jepsen` executable (next to the test bundle in the products directory) and checks
/// its exit status and output, as scripts and CI will use it.
final class CommandLineTests: XCTestCase {
    private struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    private struct MissingExecutable: Error {}

    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("jepsen-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    private func executable() throws -> URL {
        var candidates: [URL] = []
        for bundle in Bundle.allBundles {
            candidates.append(bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("jepsen"))
            candidates.append(bundle.bundleURL.appendingPathComponent("jepsen"))
        }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("jepsen"))
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            XCTFail("the jepsen executable is not built next to the tests; looked at \(candidates.map(\.path))")
            throw MissingExecutable()
        }
        return found
    }

    private func run(_ arguments: [String]) throws -> Run {
        let process = Foundation.Process()
        process.executableURL = try executable()
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }

    private func write(_ text: String, to name: String) throws -> String {
        let url = scratch.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func testValidHistoryExitsZeroAndWritesHTML() throws {
        let path = fixturesDirectory().appendingPathComponent("cas-register/good/memstress3-0.edn").path
        let html = scratch.appendingPathComponent("report.html").path
        let result = try run(["check", "--model", "cas-register", "--initial", "0", path, "--html", html])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.hasPrefix("valid:"), result.stdout)
        let page = try String(contentsOfFile: html, encoding: .utf8)
        XCTAssertTrue(page.contains("VALID: the history is linearizable"))
        XCTAssertFalse(page.contains("http://") || page.contains("https://"), "the report must be self-contained")
    }

    func testInvalidHistoryExitsOneWithJSONAndHighlightsTheOperation() throws {
        let path = fixturesDirectory().appendingPathComponent("cas-register/bad/rethink-fail-minimal.edn").path
        let html = scratch.appendingPathComponent("bad.html").path
        let result = try run(["check", "--initial", "0", "--json", "--html", html, path])
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(result.stdout.contains("\"verdict\":\"invalid\""), result.stdout)
        XCTAssertTrue(result.stdout.contains("\"description\":\"read → 3\""), result.stdout)
        let page = try String(contentsOfFile: html, encoding: .utf8)
        XCTAssertTrue(page.contains("INVALID"))
        XCTAssertTrue(page.contains("class=\"op ok bad\""), "the illegal operation is marked")
        XCTAssertTrue(page.contains("class=\"op ok lin\""), "the linearizable prefix is marked")
    }

    func testTimeoutExitsTwo() throws {
        var lines: [String] = []
        for process in 0..<30 { lines.append("{:process \(process) :type :invoke :f :write :value \(process + 1)}") }
        for process in 0..<30 { lines.append("{:process \(process) :type :ok :f :write :value \(process + 1)}") }
        lines.append("{:process 99 :type :invoke :f :read :value nil}\n{:process 99 :type :ok :f :read :value 1000}")
        let path = try write(lines.joined(separator: "\n"), to: "slow.edn")
        let result = try run(["check", "--initial", "0", "--timeout", "0.05", path])
        XCTAssertEqual(result.status, 2, result.stdout + result.stderr)
        XCTAssertTrue(result.stdout.hasPrefix("unknown:"), result.stdout)
    }

    func testMalformedInputExitsThreeWithLineOnStderr() throws {
        let path = try write("[{:process 0 :type :invoke :f :read :value nil}\n{:process 0 :type :ok :f :read :value 1.5}]", to: "bad.edn")
        let result = try run(["check", "--initial", "0", path])
        XCTAssertEqual(result.status, 3)
        XCTAssertTrue(result.stderr.contains("line 2"), result.stderr)
        XCTAssertEqual(result.stdout, "")
        let missing = try run(["check", scratch.appendingPathComponent("absent.edn").path])
        XCTAssertEqual(missing.status, 3)
    }

    func testNilInitialSelectsAbsentKeyAndConvertWritesJSONLines() throws {
        let path = try write(
            "{:process 0 :type :invoke :f :read :value nil}\n{:process 0 :type :ok :f :read :value nil}\n", to: "absent.edn")
        XCTAssertEqual(try run(["check", "--model", "register", "--initial", "nil", path]).status, 0)
        XCTAssertEqual(try run(["check", "--model", "register", "--initial", "0", path]).status, 1)
        let converted = try run(["convert", "--to", "jsonl", path])
        XCTAssertEqual(converted.status, 0)
        let jsonPath = try write(converted.stdout, to: "absent.jsonl")
        XCTAssertEqual(try run(["check", "--model", "register", "--initial", "nil", jsonPath]).status, 0)
    }

    func testSetFullModelChecksASetHistoryAndNamesALostElement() throws {
        let good = try write("""
            {:process 0 :type :invoke :f :add :value 1}
            {:process 0 :type :ok :f :add :value 1}
            {:process 1 :type :invoke :f :read :value nil}
            {:process 1 :type :ok :f :read :value [1]}
            """, to: "set-good.edn")
        XCTAssertEqual(try run(["check", "--model", "set-full", good]).status, 0)
        let lost = try write("""
            {:process 0 :type :invoke :f :add :value 1}
            {:process 0 :type :ok :f :add :value 1}
            {:process 1 :type :invoke :f :read :value nil}
            {:process 1 :type :ok :f :read :value []}
            """, to: "set-lost.edn")
        let result = try run(["check", "--model", "set-full", lost])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stdout.contains("lost 1"), result.stdout)
    }

    func testWatchAndLockModelsRejudgeStoredHistories() throws {
        let history = """
            {:process 0 :type :invoke :f :put :value [["w/a" "v0"]]}
            {:process 0 :type :ok :f :put :value [2 [["w/a" "v0"]]]}
            {:process 7 :type :invoke :f :watch :value [0 1]}
            {:process 7 :type :ok :f :watch :value [0 1 1]}
            {:process 7 :type :invoke :f :events :value [0]}
            {:process 7 :type :ok :f :events :value [0 [[2 0 "w/a" :put "v0" 2 1]]]}
            {:process 9 :type :invoke :f :history :value ["w/"]}
            """
        let good = try write(history + "\n{:process 9 :type :ok :f :history :value [2 [[2 0 \"w/a\" :put \"v0\" 2 1]]]}", to: "watch.edn")
        XCTAssertEqual(try run(["check", "--model", "watch", good]).status, 0)
        // The history read at the end lost the acknowledged put.
        let lost = try write(history + "\n{:process 9 :type :ok :f :history :value [2 []]}", to: "watch-lost.edn")
        let result = try run(["check", "--model", "watch", "--json", lost])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stdout.contains("\"lost-write\""), result.stdout)

        let lock = try write("""
            {:process 0 :type :invoke :f :acquire :value [0 10]}
            {:process 0 :type :ok :f :acquire :value [0 10 "jl/a" 2 2]}
            {:process 0 :type :invoke :f :write :value [0 2 "jf/0/0"]}
            {:process 0 :type :ok :f :write :value [0 2 3 true]}
            {:process 9 :type :invoke :f :history :value [""]}
            {:process 9 :type :ok :f :history :value [3 [[2 0 "jl/a" :put "" 2 1] [3 0 "jf/0/0" :put "2" 3 1]]]}
            """, to: "lock.edn")
        XCTAssertEqual(try run(["check", "--model", "lock", lock]).status, 0)
    }

    func testListAppendModelFindsAStaleReadAfterACompletedAppend() throws {
        // T1 appends 1 to key 0 and completes; T2 starts later and reads an empty list; T3 reads [1],
        // which places 1 first in key 0's order: G-single-realtime (T2 rw T1, T1 realtime T2).
        let stale = try write("""
            {:process 0 :type :invoke :f :txn :value [[:append 0 1]]}
            {:process 0 :type :ok :f :txn :value [[:append 0 1]]}
            {:process 1 :type :invoke :f :txn :value [[:r 0 nil]]}
            {:process 1 :type :ok :f :txn :value [[:r 0 []]]}
            {:process 2 :type :invoke :f :txn :value [[:r 0 nil]]}
            {:process 2 :type :ok :f :txn :value [[:r 0 [1]]]}
            """, to: "append-stale.edn")
        let result = try run(["check", "--model", "list-append", stale])
        XCTAssertEqual(result.status, 1, result.stdout)
        XCTAssertTrue(result.stdout.contains("G-single-realtime"), result.stdout)
        let json = try run(["check", "--model", "list-append", "--json", stale])
        XCTAssertTrue(json.stdout.hasPrefix("{"), json.stdout)
    }
}
