import Foundation
import XCTest

/// `kvctl lock NAME -- command` on a real cluster: the holder process is stopped with SIGSTOP past
/// its lease, another client takes the lock and writes, and when the first holder continues its
/// fenced write (a Txn comparing the lock key's create revision, ETCD_LOCK_REV) is refused: fencing,
/// not timing, keeps the protected key right. kvctl's ETCD_LOCK_REV is that create revision (the
/// fencing token); etcdctl 3.4's is the revision of the answer that granted the lock, equal to it
/// only when nobody held the lock, so with KEEL_E2E_CTL=etcdctl the waiting holder's own fenced
/// write fails here.
final class LockHolderPauseTests: ClusterTestCase {
    /// A holder's command: say it runs (by creating `started`), wait, then write `value` to
    /// `protected` only while holding the lock.
    func fencedWrite(_ value: String, after seconds: Int, etcdctl: URL, endpoints: String, started: URL, output: URL) -> String {
        let format = #"'create("%s") = "%s"\n\nput protected "# + value + #"\n\n\n'"#
        return ": > \(started.path); sleep \(seconds); printf \(format) \"$ETCD_LOCK_KEY\" \"$ETCD_LOCK_REV\" | ETCDCTL_API=3 \(etcdctl.path) --endpoints=\(endpoints) txn > \(output.path) 2>&1"
    }

    func testAHolderStoppedPastItsLeaseHasItsFencedWriteRefusedAfterTheNextHolderWrote() throws {
        let (cluster, _) = try startCluster()
        let endpoints = cluster.endpoints()
        let binaries = cluster.binaries
        let firstStarted = cluster.directory.appendingPathComponent("first-started")
        let firstOutput = cluster.directory.appendingPathComponent("first-txn.txt")
        let secondOutput = cluster.directory.appendingPathComponent("second-txn.txt")
        let first = try Self.spawn(
            binaries.ctl,
            ["lock", "door", "--ttl", "2", "--endpoints=\(endpoints)", "--", "sh", "-c",
             fencedWrite("first", after: 4, etcdctl: binaries.etcdctl, endpoints: endpoints, started: firstStarted, output: firstOutput)])
        var processes = [first]
        defer {
            for process in processes where process.isRunning {
                for pid in Self.tree(of: process.processIdentifier) { kill(pid, SIGCONT); kill(pid, SIGKILL) }
            }
        }
        // The first holder runs its command once it knows it holds the lock. Its key existing is
        // not enough: paused between writing the key and hearing it holds the lock, kvctl learns on
        // continuing that its session expired and never runs the command (CI saw exactly that).
        let giveUp = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: firstStarted.path) {
            guard first.isRunning, Date() < giveUp else { return XCTFail("the first holder never ran its command\n" + cluster.logTails()) }
            Thread.sleep(forTimeInterval: 0.05)
        }
        // Pause it (the lock command, its shell and the shell's sleep) past its 2 s lease.
        let paused = Self.tree(of: first.processIdentifier)
        for pid in paused { kill(pid, SIGSTOP) }
        let second = try Self.spawn(
            binaries.ctl,
            ["lock", "door", "--endpoints=\(endpoints)", "--", "sh", "-c",
             fencedWrite("second", after: 0, etcdctl: binaries.etcdctl, endpoints: endpoints,
                started: cluster.directory.appendingPathComponent("second-started"), output: secondOutput)])
        processes.append(second)
        try Self.wait(for: second, seconds: 30, what: "the second holder")
        XCTAssertEqual(try String(contentsOf: secondOutput, encoding: .utf8), "SUCCESS\n\nOK\n")
        for pid in paused { kill(pid, SIGCONT) }
        try Self.wait(for: first, seconds: 30, what: "the first holder after it continued")
        XCTAssertEqual(try String(contentsOf: firstOutput, encoding: .utf8), "FAILURE\n", "the stale holder's fenced write went through")
        XCTAssertEqual(try cluster.etcdctl(["get", "protected", "--print-value-only"]).stdout, "second\n")
    }

    static func spawn(_ binary: URL, _ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    static func wait(for process: Process, seconds: Double, what: String) throws {
        let giveUp = Date().addingTimeInterval(seconds)
        while process.isRunning {
            guard Date() < giveUp else { throw ClusterTestError("\(what) did not finish within \(seconds) s") }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// `pid` and every process descended from it, read from /proc.
    static func tree(of pid: Int32) -> [Int32] {
        var parents: [Int32: Int32] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let child = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let parent = Int32(fields[1]) { parents[child] = parent }
        }
        var result = [pid]
        var index = 0
        while index < result.count {
            result += parents.filter { $0.value == result[index] }.map(\.key)
            index += 1
        }
        return result
    }
}
