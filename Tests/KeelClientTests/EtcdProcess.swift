import Foundation
import KeelClient

/// A real single-member etcd 3.4 (Debian's etcd-server, which CI installs) on loopback, on random
/// high ports with a temporary data folder, for the tests that must match etcd's own behaviour; or,
/// given kvd's path, a single kvd started with the same flags, so the same tests hold kvd to them.
/// ``with(_:)`` always stops it (SIGTERM, then SIGKILL) and deletes its folder, even when the test fails.
final class EtcdProcess: @unchecked Sendable {
    // @unchecked Sendable: `process` is replaced only by start(), which a test calls from one task
    // at a time (at setup and in crashAndRestart()).
    static let binary = "/usr/bin/etcd"
    /// How long etcd may take to answer its first request.
    static let startLimit: Duration = .seconds(20)
    /// How long it may take to stop after SIGTERM before it is killed.
    static let stopLimit: Duration = .seconds(5)
    /// Tries at finding two free ports before giving up.
    static let portAttemptsMax = 5

    let clientPort: Int
    let peerPort: Int
    let directory: URL
    /// The server binary: etcd, or kvd.
    let binary: String
    /// Flags after etcd's own (kvd: no metrics port, so runs do not collide on 2381).
    let extraArguments: [String]
    private var process: Process?
    private let log: URL

    private init(clientPort: Int, peerPort: Int, binary: String, extraArguments: [String]) throws {
        self.clientPort = clientPort
        self.peerPort = peerPort
        self.binary = binary
        self.extraArguments = extraArguments
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("keel-client-etcd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        log = directory.appendingPathComponent("etcd.log")
    }

    /// The client endpoint.
    var endpoint: Endpoint { Endpoint(host: "127.0.0.1", port: clientPort) }

    /// Runs `body` with a started etcd; fails (never skips) when etcd is not installed.
    static func with<Result: Sendable>(
        binary: String = EtcdProcess.binary, extraArguments: [String] = [], _ body: (EtcdProcess) async throws -> Result
    ) async throws -> Result {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw TestSetupError(
                "\(binary) is missing: these tests hold the client to a real etcd 3.4; install Debian's etcd-server (scripts/install-deps does)")
        }
        var lastError: any Error = TestSetupError("no attempt")
        for _ in 0..<portAttemptsMax {
            let base = Int.random(in: 20_000..<30_000) * 2
            let etcd = try EtcdProcess(clientPort: base, peerPort: base + 1, binary: binary, extraArguments: extraArguments)
            defer { etcd.stopAndClean() }
            do {
                try await etcd.start()
            } catch {
                lastError = error
                continue
            }
            return try await body(etcd)
        }
        throw lastError
    }

    /// Kills etcd (SIGKILL, as a crash) and starts it again on the same data and ports.
    func crashAndRestart() async throws {
        if let process, process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try await start()
    }

    private func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        let client = "http://127.0.0.1:\(clientPort)"
        let peer = "http://127.0.0.1:\(peerPort)"
        process.arguments = [
            "--name", "test", "--data-dir", directory.appendingPathComponent("data").path,
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", "test=\(peer)",
        ] + extraArguments
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let output = try FileHandle(forWritingTo: log)
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = ContinuousClock.now.advanced(by: Self.startLimit)
        let configuration = KeelClientConfiguration(
            endpoints: [endpoint], dialTimeout: .milliseconds(500), commandTimeout: .seconds(1))
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw TestSetupError("etcd exited at start: \(tail())")
            }
            let ready = (try? await KeelClient.withClient(configuration) { client in
                _ = try await client.get("keel-probe")
                return true
            }) ?? false
            if ready { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestSetupError("etcd did not answer within \(Self.startLimit): \(tail())")
    }

    /// The end of etcd's log, for a failure message.
    func tail() -> String {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return String(text.suffix(2000))
    }

    private func stopAndClean() {
        if let process, process.isRunning {
            process.terminate()
            let deadline = ContinuousClock.now.advanced(by: Self.stopLimit)
            while process.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }
        try? FileManager.default.removeItem(at: directory)
    }
}
