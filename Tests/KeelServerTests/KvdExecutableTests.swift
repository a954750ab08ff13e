import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The `kvd` executable as an operator runs it: defaults, signals, exit codes, one-line errors.
final class KvdExecutableTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvd-exec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func portFlags() throws -> (flags: [String], metrics: Int) {
        let metrics = try LoopbackPorts.free()
        return ([
            "--listen-client-urls", "http://127.0.0.1:\(try LoopbackPorts.free())",
            "--listen-peer-urls", "http://127.0.0.1:\(try LoopbackPorts.free())",
            "--listen-metrics-urls", "http://127.0.0.1:\(metrics)",
        ], metrics)
    }

    func testDefaultNameAndDataDirectoryAndGracefulExitOnSIGTERM() async throws {
        let (flags, metrics) = try portFlags()
        let kvd = try KvdChild(arguments: flags, directory: directory)
        let healthy = try await kvd.waitHealthy(metricsPort: metrics)
        XCTAssertTrue(healthy, kvd.output)
        var isDirectory: ObjCBool = false
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent("default.kvd").path, isDirectory: &isDirectory))
        XCTAssertTrue(isDirectory.boolValue)
        kvd.signal(SIGTERM)
        let status = try await kvd.exitStatus()
        XCTAssertEqual(status, 0, kvd.output)
        XCTAssertTrue(kvd.output.contains("kvd stopped"), kvd.output)
    }

    /// With no flags at all kvd serves clients on 127.0.0.1:2379. Another process on this
    /// machine may hold that port; then the one correct answer is a clear refusal naming it.
    func testNoFlagsAtAllUsesEtcdsPortsOrSaysWhyNot() async throws {
        let kvd = try KvdChild(arguments: [], directory: directory)
        let healthy = try await kvd.waitHealthy(metricsPort: 2379)
        if healthy {
            XCTAssertTrue(kvd.output.contains("client-ports=[2379]"), kvd.output)
            XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent("default.kvd").path))
            kvd.signal(SIGINT)
            let status = try await kvd.exitStatus()
            XCTAssertEqual(status, 0, kvd.output)
        } else {
            let status = try await kvd.exitStatus()
            XCTAssertEqual(status, 1, kvd.output)
            XCTAssertTrue(kvd.output.contains("kvd: cannot listen on http://127.0.0.1:23"), kvd.output)
        }
    }

    func testEtcdConfigFileAndEnvironmentStartKvdWithOneWarning() async throws {
        let client = try LoopbackPorts.free()
        let peer = try LoopbackPorts.free()
        let file = directory.appendingPathComponent("etcd.conf.yml")
        try """
            name: from-file
            enable-v2: true
            max-wals: 5
            strict-reconfig-check: false
            client-transport-security:
              auto-tls: false
            """.write(to: file, atomically: true, encoding: .utf8)
        let kvd = try KvdChild(
            arguments: ["--config-file", file.path, "--listen-peer-urls", "http://127.0.0.1:\(peer)"], directory: directory,
            environment: [
                "ETCD_NAME": "from-env", "ETCD_LISTEN_CLIENT_URLS": "http://127.0.0.1:\(client)",
                "ETCD_LISTEN_PEER_URLS": "http://127.0.0.1:1", "ETCD_MAX_SNAPSHOTS": "3",
            ])
        let healthy = try await kvd.waitHealthy(metricsPort: client)
        XCTAssertTrue(healthy, kvd.output)
        XCTAssertTrue(kvd.output.contains("name=from-env"), "the environment over the file: \(kvd.output)")
        XCTAssertTrue(kvd.output.contains("client-ports=[\(client)]"), kvd.output)
        let warnings = kvd.output.split(separator: "\n").filter { $0.contains("ignoring") }
        XCTAssertEqual(warnings.count, 1, kvd.output)
        for name in ["'enable-v2'", "'max-wals'", "'strict-reconfig-check'", "'auto-tls'", "ETCD_MAX_SNAPSHOTS"] {
            XCTAssertTrue(warnings.first?.contains(name) ?? false, "\(name) in \(warnings)")
        }
        kvd.signal(SIGTERM)
        let status = try await kvd.exitStatus()
        XCTAssertEqual(status, 0, kvd.output)
    }

    func testRefusesADataDirectoryOfAnotherCluster() async throws {
        let (flags, metrics) = try portFlags()
        let first = try KvdChild(arguments: flags + ["--name", "n1", "--data-dir", "shared", "--initial-cluster-token", "one"], directory: directory)
        let healthy = try await first.waitHealthy(metricsPort: metrics)
        XCTAssertTrue(healthy, first.output)
        first.signal(SIGTERM)
        let firstStatus = try await first.exitStatus()
        XCTAssertEqual(firstStatus, 0, first.output)

        let second = try KvdChild(arguments: flags + ["--name", "n1", "--data-dir", "shared", "--initial-cluster-token", "two"], directory: directory)
        let status = try await second.exitStatus()
        XCTAssertEqual(status, 1, second.output)
        let lines = second.output.split(separator: "\n").filter { $0.hasPrefix("kvd: ") }
        XCTAssertEqual(lines.count, 1, second.output)
        XCTAssertTrue(lines.first?.contains("data directory shared belongs to") ?? false, second.output)
    }

    func testBadConfigurationExitsWithOneLineNamingTheFlag() async throws {
        let kvd = try KvdChild(arguments: ["--election-timeout", "300"], directory: directory)
        let status = try await kvd.exitStatus()
        XCTAssertEqual(status, 2)
        XCTAssertEqual(kvd.output, "kvd: --election-timeout (300 ms) must be at least 5 times --heartbeat-interval (100 ms)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("default.kvd").path), "nothing created")
    }

    func testConfigFileIsReadAndFlagsOverrideIt() async throws {
        let (flags, metrics) = try portFlags()
        let file = directory.appendingPathComponent("kvd.yml")
        try "name: from-file\ndata-dir: file-dir\nlog-level: warn\n".write(to: file, atomically: true, encoding: .utf8)
        let kvd = try KvdChild(arguments: flags + ["--config-file", file.path, "--data-dir", "flag-dir"], directory: directory)
        let healthy = try await kvd.waitHealthy(metricsPort: metrics)
        XCTAssertTrue(healthy, kvd.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent("flag-dir").path), "the flag wins")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("file-dir").path))
        XCTAssertFalse(kvd.output.contains(" info "), "log-level warn from the file hides info lines: \(kvd.output)")
        kvd.signal(SIGTERM)
        let status = try await kvd.exitStatus()
        XCTAssertEqual(status, 0, kvd.output)
    }

    func testAPortInUseExitsWithOneLineNamingURLAndFlag() async throws {
        for flag in ["--listen-client-urls", "--listen-peer-urls", "--listen-metrics-urls"] {
            let occupied = try LoopbackPorts.Occupied()
            var urls = [
                "--listen-client-urls": "http://127.0.0.1:\(try LoopbackPorts.free())",
                "--listen-peer-urls": "http://127.0.0.1:\(try LoopbackPorts.free())",
                "--listen-metrics-urls": "http://127.0.0.1:\(try LoopbackPorts.free())",
            ]
            urls[flag] = "http://127.0.0.1:\(occupied.port)"
            // Each run has its own peer URL, hence its own member id: its own data directory.
            let arguments = urls.flatMap { [$0.key, $0.value] } + ["--data-dir", "data-\(flag.dropFirst(2))"]
            let kvd = try KvdChild(arguments: arguments, directory: directory)
            let status = try await kvd.exitStatus()
            XCTAssertEqual(status, 1, kvd.output)
            let lines = kvd.output.split(separator: "\n").filter { $0.hasPrefix("kvd: ") }
            XCTAssertEqual(lines.count, 1, kvd.output)
            XCTAssertTrue(lines.first?.hasPrefix("kvd: cannot listen on http://127.0.0.1:\(occupied.port) (\(flag))") ?? false, kvd.output)
            withExtendedLifetime(occupied) {}
        }
    }
}
