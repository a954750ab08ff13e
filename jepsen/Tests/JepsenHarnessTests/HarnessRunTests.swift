import Foundation
import XCTest

@testable import JepsenHarness

#if canImport(Glibc)
    import Glibc
#endif

/// `jepsen test` as a user runs it: real kvd clusters, real faults, the verdicts and files it
/// promises, teardown after a signal and cleanup after a SIGKILL. This is the short suite CI runs.
final class HarnessRunTests: XCTestCase {
    private var jepsen = ""
    private var kvd = ""

    override func setUpWithError() throws {
        guard HarnessTestSupport.requireRoot() else { return }
        jepsen = try XCTUnwrap(HarnessTestSupport.builtProduct("jepsen"), "jepsen is built next to the tests")
        kvd = try XCTUnwrap(HarnessTestSupport.builtProduct("kvd"), "kvd is built next to the tests")
    }

    override func tearDown() {
        // Only while no other run holds the lock: never clean up under a run that is going on.
        if geteuid() == 0, let lock = try? RunLock() {
            TestNetwork.removeAll()
            withExtendedLifetime(lock) {}
        }
    }

    /// Runs `jepsen test` to the end and returns its exit status and output.
    private func runTest(_ arguments: [String], out: String) throws -> (status: Int32, output: String) {
        let (status, output) = try Subprocess.run(
            [jepsen, "test", "--binary", kvd, "--out", out, "--nemesis-interval", "3", "--seed", "5"] + arguments)
        print(output.split(separator: "\n").suffix(8).joined(separator: "\n"))
        return (status, output)
    }

    /// Runs `workload` for 30 s under every fault kvd takes, asserts a valid run and its files, and
    /// returns the checker's result object from results.json.
    @discardableResult
    private func assertValidRun(workload: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any]? {
        guard !jepsen.isEmpty else { return nil }
        let out = HarnessTestSupport.temporaryDirectory("run-\(workload)")
        let (status, output) = try runTest(
            ["--workload", workload, "--time", "30", "--nemesis", "partition,kill,pause,clock"], out: out)
        XCTAssertEqual(status, 0, "expected a valid run:\n\(output)", file: file, line: line)
        let results = try String(contentsOfFile: out + "/results.json", encoding: .utf8)
        XCTAssertTrue(results.contains("\"verdict\": \"valid\""), results, file: file, line: line)
        for fault in ["start-partition", "start-kill", "start-pause", "start-clock"] where !results.contains(fault) {
            // The schedule draws faults at random: with seed 5 and 3-second intervals each kind is drawn.
            XCTFail("no \(fault) in 30 s: \(results)", file: file, line: line)
        }
        let history = try String(contentsOfFile: out + "/history.edn", encoding: .utf8)
        XCTAssertTrue(history.contains(":type :ok"), file: file, line: line)
        let report = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        XCTAssertTrue(report.contains("✔ VALID") && report.contains("<svg"), file: file, line: line)
        for node in 1...3 {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(out)/n\(node)/server.log"), file: file, line: line)
        }
        XCTAssertEqual(HarnessTestSupport.leftovers(), [], "the run tore everything down", file: file, line: line)
        let parsed = try JSONSerialization.jsonObject(with: Data(results.utf8)) as? [String: Any]
        return (parsed?["checker"] as? [String: Any])?["result"] as? [String: Any]
    }

    func testRegisterUnderEveryFaultIsValid() throws { try assertValidRun(workload: "register") }

    func testSetUnderEveryFaultIsValid() throws { try assertValidRun(workload: "set") }

    func testAppendUnderEveryFaultIsValid() throws { try assertValidRun(workload: "append") }

    func testLeaseUnderEveryFaultIsValid() throws { try assertValidRun(workload: "lease") }

    /// Watchers on every member, resuming on another after each failed stream, see the history's order.
    func testWatchUnderEveryFaultIsValid() throws {
        let result = try assertValidRun(workload: "watch")
        XCTAssertEqual(result?["watchers"] as? Int, 6, "two watchers per member")
        XCTAssertGreaterThan(result?["events_checked"] as? Int ?? 0, 1000, "the watchers saw the run's writes")
        XCTAssertGreaterThan(result?["stream_failures"] as? Int ?? 0, 0, "faults broke streams, and the watchers resumed")
        XCTAssertGreaterThan(result?["resumptions"] as? Int ?? 0, result?["stream_failures"] as? Int ?? 0, "planned hops resume too")
    }

    /// Lock holders that stop renewing lose the lock, and the fence refuses their late writes.
    func testLockUnderEveryFaultIsValid() throws {
        let result = try assertValidRun(workload: "lock")
        XCTAssertGreaterThan(result?["grants"] as? Int ?? 0, 10)
        XCTAssertGreaterThan(result?["fenced_writes_in_history"] as? Int ?? 0, 10)
        XCTAssertGreaterThan(result?["renewal_stops"] as? Int ?? 0, 0, "some holders paused")
    }

    /// Serializable reads may be served by a member cut off from the leader: the harness must catch
    /// the stale read that results.
    func testSerializableReadsUnderPartitionsAreCaught() throws {
        guard !jepsen.isEmpty else { return }
        let out = HarnessTestSupport.temporaryDirectory("serializable")
        let (status, output) = try runTest(
            ["--workload", "register", "--time", "30", "--nemesis", "partition", "--read-consistency", "serializable"], out: out)
        XCTAssertEqual(status, 1, "stale serializable reads must make the run invalid:\n\(output)")
        XCTAssertTrue(output.contains("not linearizable"), output)
    }

    /// Crashes that lose every unsynced write: kvd syncs its log before it acknowledges, so nothing
    /// acknowledged is lost, and the preload library really undid writes at the restarts.
    func testCrashesThatLoseUnsyncedWritesLoseNothingAcknowledged() throws {
        guard !jepsen.isEmpty else { return }
        let out = HarnessTestSupport.temporaryDirectory("crash")
        let (status, output) = try runTest(
            ["--workload", "set", "--time", "30", "--nemesis", "crash", "--nemesis-interval", "2", "--seed", "3"], out: out)
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("lost 0"), output)
        let logs = try (1...3).map { try String(contentsOfFile: "\(out)/n\($0)/server.log", encoding: .utf8) }.joined()
        let restored = logs.split(separator: "\n").filter { $0.hasPrefix("lose-unsynced:") && !$0.contains("restored 0 undo") }
        XCTAssertFalse(restored.isEmpty, "no restart undid any unsynced write:\n\(logs.prefix(2000))")
    }

    /// The same crashes against kvd whose write-ahead-log syncs are made no-ops (no-fsync.so):
    /// acknowledged writes are lost, and the run says so.
    func testCrashesCatchAServerThatDoesNotSyncItsLog() throws {
        guard !jepsen.isEmpty else { return }
        let out = HarnessTestSupport.temporaryDirectory("no-fsync")
        let source = URL(fileURLWithPath: LoseUnsyncedLibrary.sourcePath).deletingLastPathComponent().appendingPathComponent("no-fsync.c").path
        try Subprocess.check(["cc", "-shared", "-fPIC", "-O2", "-o", out + "/no-fsync.so", source, "-ldl"])
        let (status, output) = try runTest(
            ["--workload", "set", "--time", "30", "--nemesis", "crash", "--nemesis-interval", "2", "--seed", "3",
             "--server-preload", out + "/no-fsync.so"], out: out)
        XCTAssertEqual(status, 1, output)
        XCTAssertTrue(output.contains("lost: ["), "acknowledged elements must be reported lost:\n\(output)")
    }

    /// Members removed (the leader among them) and added back on empty data, with kills between:
    /// no acknowledged element lost, every member back and answering at the end, no crash.
    func testMembershipChangesUnderWritesLoseNothing() throws {
        guard !jepsen.isEmpty else { return }
        let out = HarnessTestSupport.temporaryDirectory("member")
        let (status, output) = try runTest(["--workload", "set", "--time", "30", "--nemesis", "member,kill"], out: out)
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("lost 0"), output)
        let results = try String(contentsOfFile: out + "/results.json", encoding: .utf8)
        XCTAssertTrue(results.contains("removed "), "no member was removed: \(results)")
        XCTAssertTrue(results.contains("back as member"), "no member was added back: \(results)")
        XCTAssertEqual(HarnessTestSupport.leftovers(), [], "the run tore everything down")
    }

    func testUnsupportedOptionsAreRefusedBeforeAnythingStarts() throws {
        guard !jepsen.isEmpty else { return }
        let out = HarnessTestSupport.temporaryDirectory("refused")
        let workload = try runTest(["--workload", "bank", "--time", "5", "--nemesis", "none"], out: out)
        XCTAssertEqual(workload.status, 3)
        XCTAssertTrue(workload.output.contains("unknown workload 'bank'"), workload.output)
        let binary = try Subprocess.run([jepsen, "test", "--binary", "/nonexistent/kvd", "--out", out, "--time", "5"])
        XCTAssertEqual(binary.status, 3)
        XCTAssertTrue(binary.output.contains("does not exist"), binary.output)
        XCTAssertEqual(HarnessTestSupport.leftovers(), [])
    }

    /// SIGINT stops the run and tears the cluster down; SIGKILL cannot, and `jepsen clean` (which
    /// every run also does first) removes what it left.
    func testTeardownAfterSIGINTAndCleanupAfterSIGKILL() throws {
        guard !jepsen.isEmpty else { return }
        for signal in [SIGINT, SIGKILL] {
            let out = HarnessTestSupport.temporaryDirectory("signal-\(signal)")
            let harness = try Subprocess.start(
                [jepsen, "test", "--binary", kvd, "--out", out, "--workload", "register", "--time", "120", "--nemesis", "partition"],
                logPath: out + "/harness.log")
            let servers = try waitForServers(out: out)
            XCTAssertEqual(servers.count, 3, "three kvd processes in the namespaces")
            kill(harness, signal)
            let status = Subprocess.waitForExit(harness)
            let log = (try? String(contentsOfFile: out + "/harness.log", encoding: .utf8)) ?? ""
            if signal == SIGINT {
                XCTAssertEqual(status, 3, log)
                XCTAssertTrue(log.contains("interrupted"), log)
                XCTAssertEqual(HarnessTestSupport.leftovers(), [], "SIGINT tears down")
            } else {
                XCTAssertEqual(status, 128 + SIGKILL)
                XCTAssertFalse(HarnessTestSupport.leftovers().isEmpty, "a SIGKILLed harness cannot tear down")
                XCTAssertTrue(servers.contains(where: isAlive), "its servers are still running")
                let (cleanStatus, cleanOutput) = try Subprocess.run([jepsen, "clean"])
                XCTAssertEqual(cleanStatus, 0, cleanOutput)
                XCTAssertTrue(cleanOutput.contains("removed"), cleanOutput)
                XCTAssertEqual(HarnessTestSupport.leftovers(), [])
            }
            Thread.sleep(forTimeInterval: 0.2)
            XCTAssertFalse(servers.contains(where: isAlive), "no server process survives")
            XCTAssertTrue(iptablesRulesGone(), "no namespace, so no rule, is left")
        }
    }

    // MARK: helpers

    /// Waits until the three namespaces each hold a process; returns their pids.
    private func waitForServers(out: String) throws -> [pid_t] {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let pids = (1...3).flatMap { index in
                ((try? Subprocess.check(["ip", "netns", "pids", "keelj-n\(index)"])) ?? "")
                    .split(separator: "\n").compactMap { pid_t($0) }
            }
            if pids.count >= 3 {
                // Give the servers a moment past exec so they are kvd, not `ip netns exec`.
                Thread.sleep(forTimeInterval: 1)
                return pids
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        XCTFail("the harness never started three servers")
        return []
    }

    /// Running and not a zombie (pid 1 here does not reap orphans).
    private func isAlive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }

    private func iptablesRulesGone() -> Bool { TestNetwork.existingNamespaces().isEmpty }
}
