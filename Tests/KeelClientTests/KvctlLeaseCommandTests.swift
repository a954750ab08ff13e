import Foundation
import KeelClient
import XCTest

/// kvctl's lease commands, run as a process against in-test KV and Lease services. Expected texts,
/// exit codes and error messages are what etcdctl 3.4.23 printed against etcd 3.4.23 for the same
/// commands and answers.
final class KvctlLeaseCommandTests: XCTestCase {
    /// The first ID the fake lease service hands out, in etcdctl's hex.
    static let firstID = "694d71ddacfda227"

    func run(_ arguments: String, port: Int) async throws -> KvctlRun {
        try await KvctlProcess.run(arguments.split(separator: " ").map(String.init), port: port)
    }

    func assertRun(
        _ arguments: String, port: Int, exit: Int32, stdout: String = "", stderr: String = "",
        file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        let result = try await run(arguments, port: port)
        XCTAssertEqual(
            result, KvctlRun(status: exit, stdout: stdout, stderr: stderr), "kvctl \(arguments)", file: file, line: line)
    }

    func testGrantAndRevokeWithTheirErrors() async throws {
        let lease = FakeLease()
        try await withFakeServers([lease]) { ports in
            let port = ports[0]
            try await assertRun("lease grant 60", port: port, exit: 0, stdout: "lease \(Self.firstID) granted with TTL(60s)\n")
            try await assertRun(
                "lease grant 60 -w json", port: port, exit: 0,
                stdout:
                    #"{"cluster_id":7222109305586615858,"member_id":17767816877210000001,"revision":1,"raft_term":2,"ID":7587846144093168168,"TTL":60,"Error":""}"#
                    + "\n")
            try await assertRun(
                "lease grant 9000000001", port: port, exit: 1,
                stderr: "Error: failed to grant lease (etcdserver: too large lease TTL)\n")
            try await assertRun(
                "lease grant abc", port: port, exit: 128,
                stderr: "Error: bad TTL (strconv.ParseInt: parsing \"abc\": invalid syntax)\n")
            try await assertRun("lease grant", port: port, exit: 128, stderr: "Error: lease grant command needs TTL argument\n")
            try await assertRun("lease grant 1 2", port: port, exit: 128, stderr: "Error: lease grant command needs TTL argument\n")
            try await assertRun("lease grant 60 -w table", port: port, exit: 4, stderr: "Error: table not supported as output format\n")

            try await assertRun("lease revoke \(Self.firstID)", port: port, exit: 0, stdout: "lease \(Self.firstID) revoked\n")
            try await assertRun(
                "lease revoke \(Self.firstID)", port: port, exit: 1,
                stderr: "Error: failed to revoke lease (etcdserver: requested lease not found)\n")
            try await assertRun("lease revoke", port: port, exit: 128, stderr: "Error: lease revoke command needs 1 argument\n")
            try await assertRun(
                "lease revoke zz", port: port, exit: 128,
                stderr: "Error: bad lease ID arg (strconv.ParseInt: parsing \"zz\": invalid syntax), expecting ID in Hex\n")
        }
        // Three granted (-w table too: like etcdctl, kvctl refuses the format only when printing), one revoked.
        XCTAssertEqual(lease.leaseCount, 2)
    }

    func testTimeToLiveListAndOneRenewal() async throws {
        let lease = FakeLease()
        lease.add(id: 0x5a81_a24f_23f6_a617, ttl: 100, keys: ["k1", "k2"])
        try await withFakeServers([lease]) { ports in
            let port = ports[0]
            try await assertRun(
                "lease timetolive 5a81a24f23f6a617 --keys", port: port, exit: 0,
                stdout: "lease 5a81a24f23f6a617 granted with TTL(100s), remaining(99s), attached keys([k1 k2])\n")
            try await assertRun(
                "lease timetolive 5a81a24f23f6a617 -w json", port: port, exit: 0,
                stdout:
                    #"{"cluster_id":7222109305586615858,"member_id":17767816877210000001,"revision":1,"raft_term":2,"id":6521672196198671895,"ttl":99,"granted-ttl":100,"keys":null}"#
                    + "\n")
            try await assertRun("lease timetolive 1234", port: port, exit: 0, stdout: "lease 0000000000001234 already expired\n")
            try await assertRun(
                "lease timetolive", port: port, exit: 128, stderr: "Error: lease timetolive command needs lease ID as argument\n")
            try await assertRun("lease list", port: port, exit: 0, stdout: "found 1 leases\n5a81a24f23f6a617\n")
            try await assertRun(
                "lease keep-alive --once 5a81a24f23f6a617", port: port, exit: 0,
                stdout: "lease 5a81a24f23f6a617 keepalived with TTL(100)\n")
            try await assertRun(
                "lease keep-alive --once 1234", port: port, exit: 2, stderr: "Error: etcdserver: requested lease not found\n")
            try await assertRun(
                "lease keep-alive --once", port: port, exit: 128,
                stderr: "Error: lease keep-alive command needs lease ID as argument\n")
        }
    }

    func testKeepAlivePrintsEachRenewalUntilTheLeaseIsGone() async throws {
        let lease = FakeLease()
        lease.add(id: 0x10, ttl: 1)
        try await withFakeServers([lease]) { ports in
            let port = ports[0]
            async let keepingAlive = KvctlProcess.run(["lease", "keep-alive", "10"], port: port)
            let deadline = ContinuousClock.now.advanced(by: .seconds(10))
            while lease.renewalTimes.count < 2 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            lease.expire(id: 0x10)
            let result = try await keepingAlive
            XCTAssertEqual(result.status, 0, "\(result)")
            XCTAssertEqual(result.stderr, "")
            var lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            XCTAssertEqual(lines.popLast(), "", "the output ends with a newline")
            XCTAssertEqual(lines.popLast(), "lease 0000000000000010 expired or revoked.")
            XCTAssertGreaterThanOrEqual(lines.count, 2, "\(result)")
            XCTAssertEqual(Set(lines), ["lease 0000000000000010 keepalived with TTL(1)"])

            try await assertRun("lease keep-alive 1234", port: port, exit: 0, stdout: "lease 0000000000001234 expired or revoked.\n")
        }
        XCTAssertEqual(lease.openStreams, 0)
    }

    func testPutAttachesTheLeaseGivenInHex() async throws {
        let kv = FakeKV(memberID: 1)
        try await withFakeServers([kv]) { ports in
            try await assertRun("put k v --lease=694d", port: ports[0], exit: 0, stdout: "OK\n")
            try await assertRun("put k v", port: ports[0], exit: 0, stdout: "OK\n")
            try await assertRun(
                "put k v --lease=zz", port: ports[0], exit: 128,
                stderr: "Error: bad lease ID (strconv.ParseInt: parsing \"zz\": invalid syntax), expecting ID in Hex\n")
        }
        XCTAssertEqual(kv.puts.map(\.lease), [0x694d, 0])
    }

    func testAServerWithoutLeasesIsReportedWithEtcdctlsPrefixesAndCodes() async throws {
        try await withFakeServers([FakeKV(memberID: 1)]) { ports in
            let grant = try await run("lease grant 10", port: ports[0])
            XCTAssertEqual(grant.status, 1)
            XCTAssertTrue(grant.stderr.hasPrefix("Error: failed to grant lease (rpc error: code = Unimplemented desc = "), grant.stderr)
            let list = try await run("lease list", port: ports[0])
            XCTAssertEqual(list.status, 2)
            XCTAssertTrue(list.stderr.hasPrefix("Error: rpc error: code = Unimplemented desc = "), list.stderr)
            let keepAlive = try await run("lease keep-alive 10", port: ports[0])
            XCTAssertEqual(keepAlive.status, 1, "kvctl reports a server without leases instead of calling the lease expired")
            XCTAssertTrue(keepAlive.stderr.hasPrefix("Error: rpc error: code = Unimplemented desc = "), keepAlive.stderr)
        }
    }
}
