import Foundation
import KeelClient
import KeelProto
import XCTest

/// kvctl's `watch`, `lock` and `elect` print what etcdctl 3.4 prints: both run, one after the
/// other, against the same real etcd (started by the test), and their exit status, standard
/// output and standard error must match once lease IDs are masked.
final class KvctlWatchLockEtcdTests: XCTestCase {
    static let etcdctl = URL(fileURLWithPath: "/usr/bin/etcdctl")
    /// How long a long-running command runs before it gets SIGINT.
    static let interruptAfter: Duration = .milliseconds(1500)
    /// How long any one run may take before it is killed and the test fails.
    static let runLimit: Duration = .seconds(20)

    /// Runs `executable` against `port` with SIGINT after `interruptAfter` (if given).
    static func run(
        _ executable: URL, _ arguments: [String], port: Int, interruptAfter: Duration? = nil, input: String = ""
    ) async throws -> KvctlRun {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kvctl-etcd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("out")
        let errURL = scratch.appendingPathComponent("err")
        let inURL = scratch.appendingPathComponent("in")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: inURL.path, contents: Data(input.utf8))
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        let inHandle = try FileHandle(forReadingFrom: inURL)
        defer {
            try? out.close()
            try? err.close()
            try? inHandle.close()
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = ["--endpoints=127.0.0.1:\(port)"] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["ETCDCTL_API": "3"]) { $1 }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inHandle
        try process.run()
        let start = ContinuousClock.now
        var interrupted = false
        while process.isRunning {
            let elapsed = start.duration(to: .now)
            if let interruptAfter, !interrupted, elapsed >= interruptAfter {
                kill(process.processIdentifier, SIGINT)
                interrupted = true
            }
            if elapsed >= runLimit {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                throw TestSetupError("\(executable.lastPathComponent) \(arguments) ran longer than \(runLimit)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        process.waitUntilExit()
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return KvctlRun(
            status: status,
            stdout: try String(contentsOf: outURL, encoding: .utf8),
            stderr: try String(contentsOf: errURL, encoding: .utf8))
    }

    /// Lease IDs (the last part of lock and election keys) differ from run to run.
    static func masked(_ run: KvctlRun) -> KvctlRun {
        func mask(_ text: String) -> String {
            text.replacingOccurrences(of: "/[0-9a-f]{12,16}", with: "/<lease>", options: .regularExpression)
        }
        return KvctlRun(status: run.status, stdout: mask(run.stdout), stderr: mask(run.stderr))
    }

    /// Runs each command with etcdctl and then kvctl and compares.
    func assertSameAsEtcdctl(
        _ commands: [(arguments: [String], interrupt: Bool, input: String)], port: Int,
        file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        let kvctl = try KvctlProcess.locate()
        for command in commands {
            let interrupt = command.interrupt ? Self.interruptAfter : nil
            let reference = try await Self.run(Self.etcdctl, command.arguments, port: port, interruptAfter: interrupt, input: command.input)
            let ours = try await Self.run(kvctl, command.arguments, port: port, interruptAfter: interrupt, input: command.input)
            XCTAssertEqual(
                Self.masked(ours), Self.masked(reference), "kvctl \(command.arguments.joined(separator: " "))",
                file: file, line: line)
        }
    }

    func testWatchPrintsWhatEtcdctlPrints() async throws {
        try await EtcdProcess.with { etcd in
            guard FileManager.default.isExecutableFile(atPath: Self.etcdctl.path) else {
                throw TestSetupError("\(Self.etcdctl.path) is missing; install Debian's etcd-client")
            }
            let first = try await KeelClient.withClient(KeelClientConfiguration(endpoints: [etcd.endpoint])) { client in
                let first = try await client.put("fruit/apple", "red")
                _ = try await client.put("fruit/apple", "green")
                _ = try await client.put("fruit/pear", "yellow")
                _ = try await client.put("veg", "leek")
                _ = try await client.deleteRange(DeleteRangeRequest.with { $0.key = Data("fruit/apple".utf8) })
                _ = try await client.compact(CompactionRequest.with { $0.revision = first.header.revision + 1 })
                return first.header.revision
            }
            let from = String(first + 1)
            try await assertSameAsEtcdctl(
                [
                    (["watch", "fruit/", "--prefix", "--rev", from], true, ""),
                    (["watch", "fruit/apple", "--rev", from, "--prev-kv"], true, ""),
                    (["watch", "fruit/", "fruit0", "--rev", from], true, ""),
                    (["watch", "fruit/", "--prefix", "--rev", from, "-w", "json"], true, ""),
                    (["watch", "fruit/", "--rev", String(first)], false, ""),
                    (["watch", "fruit/", "--rev", String(first), "-w", "json"], false, ""),
                    (["watch", "fruit/pear", "--rev", from, "--", "sh", "-c", "echo $ETCD_WATCH_EVENT_TYPE $ETCD_WATCH_KEY $ETCD_WATCH_VALUE $ETCD_WATCH_REVISION"], true, ""),
                    (["watch", "fruit/pear", "--rev", from, "--", "sh", "-c", "exit 3"], false, ""),
                    (["watch"], false, ""),
                    (["watch", "a", "b", "--prefix"], false, ""),
                    (["watch", "-i"], false, "bogus line\nwatch\n"),
                ], port: etcd.clientPort)
        }
    }

    func testLockAndElectPrintWhatEtcdctlPrints() async throws {
        try await EtcdProcess.with { etcd in
            guard FileManager.default.isExecutableFile(atPath: Self.etcdctl.path) else {
                throw TestSetupError("\(Self.etcdctl.path) is missing; install Debian's etcd-client")
            }
            try await assertSameAsEtcdctl(
                [
                    (["lock", "door"], true, ""),
                    (["lock", "door", "--", "sh", "-c", "echo holding $ETCD_LOCK_KEY"], false, ""),
                    (["lock", "door", "--", "sh", "-c", "exit 3"], false, ""),
                    (["lock"], false, ""),
                    (["elect", "chair", "alice"], true, ""),
                    (["elect", "chair"], false, ""),
                    (["elect", "-l", "chair", "bob"], false, ""),
                    (["elect"], false, ""),
                ], port: etcd.clientPort)
            // Both released what they held on the way out.
            let left = try await KeelClient.withClient(KeelClientConfiguration(endpoints: [etcd.endpoint])) { client in
                try await client.range(RangeRequest.with {
                    $0.key = Data([0])
                    $0.rangeEnd = KeyRange.fromKeyEnd
                }).kvs.map { String(decoding: $0.key, as: UTF8.self) }
            }
            XCTAssertEqual(left, [], "no lock or campaign key is left behind")
        }
    }
}
