import Foundation
import KeelClient
import KeelProto
import XCTest

/// kvctl's `endpoint hashkv`, `alarm list|disarm`, `defrag` and `move-leader` print what etcdctl 3.4
/// prints: both run against the same real etcd (one member, with a 1 MB quota so that NOSPACE can
/// be raised), and their exit status, standard output and standard error must match. etcdctl's
/// client also logs a JSON line per failed attempt on standard error, which kvctl does not.
final class KvctlMaintenanceEtcdTests: XCTestCase {
    static let quotaBytes = 1_000_000
    static let bigValue = Data(repeating: UInt8(ascii: "x"), count: 100_000)

    /// etcdctl's retry log lines left out.
    private static func withoutLogLines(_ run: KvctlRun) -> KvctlRun {
        let lines = run.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("{\"level\":") }
        return KvctlRun(status: run.status, stdout: run.stdout, stderr: lines.joined(separator: "\n"))
    }

    /// Runs `prepare`, each command with etcdctl, `prepare` again (to undo what the command changed),
    /// then kvctl, and compares.
    private func assertSameAsEtcdctl(
        _ commands: [[String]], port: Int, prepare: () async throws -> Void = {}, file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        let kvctl = try KvctlProcess.locate()
        for arguments in commands {
            try await prepare()
            let reference = try await KvctlWatchLockEtcdTests.run(KvctlWatchLockEtcdTests.etcdctl, arguments, port: port)
            try await prepare()
            let ours = try await KvctlWatchLockEtcdTests.run(kvctl, arguments, port: port)
            XCTAssertEqual(Self.withoutLogLines(ours), Self.withoutLogLines(reference), "kvctl \(arguments.joined(separator: " "))", file: file, line: line)
        }
    }

    func testMaintenanceCommandsPrintWhatEtcdctlPrints() async throws {
        try await EtcdProcess.with(extraArguments: ["--quota-backend-bytes=\(Self.quotaBytes)"]) { etcd in
            let configuration = KeelClientConfiguration(endpoints: [etcd.endpoint])
            let memberID = try await KeelClient.withClient(configuration) { client in
                _ = try await client.put("a", "1")
                _ = try await client.put("b", "2")
                _ = try await client.put("a", "3")
                return try await client.status(at: etcd.endpoint).header.memberID
            }
            let hex = String(memberID, radix: 16)
            try await assertSameAsEtcdctl(
                [
                    ["endpoint", "hashkv"], ["endpoint", "hashkv", "-w", "json"], ["endpoint", "hashkv", "-w", "table"],
                    ["endpoint", "hashkv", "--rev", "3"], ["endpoint", "hashkv", "--rev", "1000"],
                    ["alarm", "list"], ["alarm", "list", "-w", "json"], ["alarm", "list", "-w", "table"], ["alarm", "disarm"],
                    ["defrag"], ["defrag", "-w", "json"],
                    ["move-leader", hex], ["move-leader", hex, "-w", "json"], ["move-leader", "1234"], ["move-leader", "zz"],
                    ["move-leader", "1ffffffffffffffff"], ["move-leader"],
                ], port: etcd.clientPort)

            // Compacted revisions, and alarms once the quota is reached.
            let raise = {
                try await KeelClient.withClient(configuration) { client in
                    for _ in 0..<40 {
                        var request = Etcdserverpb_PutRequest()
                        request.key = Data("big".utf8)
                        request.value = Self.bigValue
                        do { _ = try await client.put(request) } catch { return }
                    }
                    XCTFail("the quota never refused a put")
                }
            }
            _ = try await KeelClient.withClient(configuration) { client in try await client.compact(.with { $0.revision = 3 }) }
            try await raise()
            try await assertSameAsEtcdctl(
                [["endpoint", "hashkv", "--rev", "2"], ["alarm", "list"], ["alarm", "list", "-w", "json"]], port: etcd.clientPort)
            try await assertSameAsEtcdctl([["alarm", "disarm"], ["alarm", "disarm", "-w", "json"]], port: etcd.clientPort, prepare: raise)
        }
    }
}
