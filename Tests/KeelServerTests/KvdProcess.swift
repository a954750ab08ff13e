import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// One `kvd` child process for the executable's tests; killed with SIGKILL when released, so a
/// failing test leaves nothing running.
final class KvdChild {
    /// How long a test waits for kvd to become healthy or to exit.
    static let waitSecondsMax: Double = 30

    let process = Process()
    let directory: URL
    let logURL: URL

    /// The kvd built next to the test bundle (swift test builds every product).
    static var executable: URL {
        if let given = ProcessInfo.processInfo.environment["KVD_BINARY"] { return URL(fileURLWithPath: given) }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("kvd")
    }

    /// `environment` is added to the test process's own.
    init(arguments: [String], directory: URL, environment: [String: String] = [:]) throws {
        self.directory = directory
        logURL = directory.appendingPathComponent("kvd-\(UUID().uuidString.prefix(8)).log")
        FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        process.executableURL = Self.executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, given in given }
        process.currentDirectoryURL = directory
        process.standardOutput = log
        process.standardError = log
        guard FileManager.default.isExecutableFile(atPath: Self.executable.path) else {
            throw LoopbackHTTP.Failure(description: "kvd not found at \(Self.executable.path); run swift build first or set KVD_BINARY")
        }
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Everything kvd wrote to standard output and error.
    var output: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    func signal(_ number: Int32) {
        kill(process.processIdentifier, number)
    }

    /// The exit status, waiting at most ``waitSecondsMax``; nil if still running.
    func exitStatus() async throws -> Int32? {
        let deadline = ContinuousClock.now.advanced(by: .seconds(Self.waitSecondsMax))
        while process.isRunning && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Waits until `/health` on `port` (a client URL's or a metrics URL's) answers 200; false if
    /// kvd exited or time ran out.
    func waitHealthy(metricsPort port: Int) async throws -> Bool {
        let deadline = ContinuousClock.now.advanced(by: .seconds(Self.waitSecondsMax))
        while process.isRunning && ContinuousClock.now < deadline {
            let answer = try? await Task.detached { try LoopbackHTTP.get(port: port, path: "/health") }.value
            if answer?.status == 200 { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }
}
