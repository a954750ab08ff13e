import Foundation
import XCTest

/// cluster/keel-cluster, the README's first command, on its own ports and folder: it starts a
/// cluster that serves, reports which nodes run, kills and restarts one that then catches up, is
/// idempotent, and stops every process it started.
final class ClusterScriptTests: XCTestCase {
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("cluster/keel-cluster")
    /// Start waits up to 60 s for a leader itself; stop up to 10 s before SIGKILL.
    static let scriptTimeLimitSeconds = 90.0
    static let nodesCount = 3
    /// Ports reserved: room for one member added beyond the first three.
    static let nodesMax = 4

    private var directory: URL?
    private var environment: [String: String] = [:]
    private var binaries: ClusterBinaries?

    override func setUpWithError() throws {
        let binaries = try ClusterBinaries.locate()
        self.binaries = binaries
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keel-script-\(UUID().uuidString.prefix(8))")
        self.directory = directory
        environment = [
            "KEEL_CLUSTER_DIR": directory.path,
            "KEEL_CLUSTER_BASE_PORT": String(try ClusterPorts.consecutiveFreeBase(10 * Self.nodesMax)),
        ]
        if binaries.serverIsEtcd {
            environment["KEEL_CLUSTER_BINARY"] = "etcd"
        } else {
            environment["KEEL_KVD"] = binaries.server.path
            environment["KEEL_KVCTL"] = binaries.ctl.path
        }
    }

    override func tearDown() {
        // Whatever happened, no node outlives the test.
        if let directory {
            _ = try? script(["stop"])
            for pid in pids().values { kill(pid, SIGKILL) }
            try? FileManager.default.removeItem(at: directory)
        }
        super.tearDown()
    }

    private func script(_ arguments: [String]) throws -> ClusterCommandResult {
        try ClusterCommand.run(
            Self.script, arguments, environment: environment, timeLimitSeconds: Self.scriptTimeLimitSeconds,
            scratch: FileManager.default.temporaryDirectory)
    }

    /// Node name to the pid its pid file records.
    private func pids() -> [String: pid_t] {
        guard let directory else { return [:] }
        var result: [String: pid_t] = [:]
        for i in 1...Self.nodesMax {
            let file = directory.appendingPathComponent("node\(i).pid")
            if let text = try? String(contentsOf: file, encoding: .utf8), let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                result["node\(i)"] = pid
            }
        }
        return result
    }

    /// Running, not a zombie: the nodes are reparented to pid 1, which may not reap them.
    private func isRunning(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }

    private func clientAddress(_ index: Int) -> String {
        "127.0.0.1:\(Int(environment["KEEL_CLUSTER_BASE_PORT"]!)! + 10 * (index - 1))"
    }

    private func etcdctl(_ arguments: [String], node index: Int) throws -> ClusterCommandResult {
        try ClusterCommand.run(
            try XCTUnwrap(binaries).etcdctl, ["--endpoints=\(clientAddress(index))", "--command-timeout=5s"] + arguments,
            timeLimitSeconds: 15, scratch: FileManager.default.temporaryDirectory)
    }

    /// Polls `condition` until it holds or `seconds` pass; returns whether it held.
    private func eventually(within seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            if try condition() { return true }
            usleep(50_000)
        } while Date() < deadline
        return false
    }

    func testStartStatusKillRestartStopAndClean() throws {
        let started = try script(["start"])
        XCTAssertEqual(started.status, 0, started.transcript)
        for i in 1...Self.nodesCount {
            XCTAssertTrue(started.stdout.contains("http://\(clientAddress(i))"), "start does not print node\(i)'s endpoint:\n\(started.stdout)")
        }
        let firstPids = pids()
        XCTAssertEqual(firstPids.count, Self.nodesCount)
        XCTAssertTrue(firstPids.values.allSatisfy(isRunning), "\(firstPids)")
        let put = try etcdctl(["put", "script", "works"], node: 1)
        XCTAssertEqual(put.stdout, "OK\n", put.transcript)

        let again = try script(["start"])
        XCTAssertEqual(again.status, 0, again.transcript)
        XCTAssertTrue(again.stdout.contains("already running"), again.stdout)
        XCTAssertEqual(pids(), firstPids, "a second start replaced running nodes")

        let killed = try script(["kill", "node2"])
        XCTAssertEqual(killed.status, 0, killed.transcript)
        let node2 = try XCTUnwrap(firstPids["node2"])
        XCTAssertTrue(eventually(within: 5) { !isRunning(node2) }, "node2 survived kill")
        let status = try script(["status"])
        XCTAssertTrue(status.stdout.contains("node2  stopped"), status.transcript)
        XCTAssertTrue(status.stdout.contains("node1  running"), status.transcript)
        // node2 may have led: the other two first elect a new leader.
        var write: ClusterCommandResult?
        XCTAssertTrue(
            try eventually(within: 30) {
                write = try etcdctl(["put", "while", "down"], node: 1)
                return write?.stdout == "OK\n"
            }, "no write after node2 was killed: \(write?.transcript ?? "")")

        let restarted = try script(["restart", "node2"])
        XCTAssertEqual(restarted.status, 0, restarted.transcript)
        let newPid = try XCTUnwrap(pids()["node2"])
        XCTAssertNotEqual(newPid, firstPids["node2"])
        XCTAssertTrue(isRunning(newPid))
        // It caught up with the write it missed: a serializable read answers from its own state.
        var read: ClusterCommandResult?
        XCTAssertTrue(
            try eventually(within: 30) {
                read = try etcdctl(["get", "while", "--consistency=s", "--print-value-only"], node: 2)
                return read?.stdout == "down\n"
            }, "node2 did not catch up: \(read?.transcript ?? "")")

        let unknown = try script(["kill", "node9"])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.stderr.contains("no node named 'node9'"), unknown.transcript)

        let lastPids = pids()
        let stopped = try script(["stop"])
        XCTAssertEqual(stopped.status, 0, stopped.transcript)
        for (name, pid) in lastPids {
            XCTAssertTrue(eventually(within: 5) { !isRunning(pid) }, "\(name) (pid \(pid)) still runs after stop")
        }
        let stoppedAgain = try script(["stop"])
        XCTAssertEqual(stoppedAgain.status, 0, stoppedAgain.transcript)

        let cleaned = try script(["clean"])
        XCTAssertEqual(cleaned.status, 0, cleaned.transcript)
        XCTAssertFalse(FileManager.default.fileExists(atPath: try XCTUnwrap(directory).path))
    }

    func testAddAndRemoveAMember() throws {
        let started = try script(["start"])
        XCTAssertEqual(started.status, 0, started.transcript)
        XCTAssertEqual(try etcdctl(["put", "before", "growing"], node: 1).stdout, "OK\n")

        let added = try script(["add", "--learner"])
        XCTAssertEqual(added.status, 0, added.transcript)
        XCTAssertTrue(added.stdout.contains("added node4 as a learner"), added.transcript)
        let node4 = try XCTUnwrap(pids()["node4"])
        XCTAssertTrue(isRunning(node4))
        var read: ClusterCommandResult?
        XCTAssertTrue(
            try eventually(within: 30) {
                read = try etcdctl(["get", "before", "--consistency=s", "--print-value-only"], node: 4)
                return read?.stdout == "growing\n"
            }, "node4 did not catch up: \(read?.transcript ?? "")")
        let endpoints = try script(["endpoints"])
        XCTAssertEqual(endpoints.stdout.split(separator: ",").count, 4, endpoints.stdout)

        let node2 = try XCTUnwrap(pids()["node2"])
        let removed = try script(["remove", "node2"])
        XCTAssertEqual(removed.status, 0, removed.transcript)
        XCTAssertTrue(eventually(within: 15) { !isRunning(node2) }, "node2 still runs after its removal")
        let list = try etcdctl(["member", "list"], node: 1)
        XCTAssertEqual(list.stdout.split(separator: "\n").count, 3, list.transcript)
        XCTAssertFalse(list.stdout.contains(", node2, "), list.stdout)
        let status = try script(["status"])
        XCTAssertFalse(status.stdout.contains("node2"), status.transcript)
        let again = try script(["remove", "node2"])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("node2 was removed"), again.transcript)
    }
}
