import Foundation

/// What one kvctl run printed and how it ended.
struct KvctlRun: Equatable, CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String

    var description: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
}

/// Runs the kvctl that `swift build --build-tests` builds next to the test bundle, so the tests
/// see its arguments, output and exit status as a user does.
enum KvctlProcess {
    /// How long one run may take before it is killed and the test fails.
    static let timeLimit: Duration = .seconds(30)

    static func locate() throws -> URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle.main.bundleURL.deletingLastPathComponent(),
            Bundle.main.bundleURL,
        ] + Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        for directory in candidates {
            let url = directory.appendingPathComponent("kvctl")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw TestSetupError("kvctl not found next to the test bundle; `swift build --build-tests` builds it")
    }

    /// Runs kvctl with `arguments` against `port` on loopback. Output goes to files, and the wait
    /// sleeps asynchronously, so the in-process fake servers keep every thread they need.
    static func run(_ arguments: [String], port: Int) async throws -> KvctlRun {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kvctl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("out")
        let errURL = scratch.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        defer {
            try? out.close()
            try? err.close()
        }
        let process = Process()
        process.executableURL = try locate()
        process.arguments = ["--endpoints=127.0.0.1:\(port)"] + arguments
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now.advanced(by: timeLimit)
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                process.terminate()
                process.waitUntilExit()
                throw TestSetupError("kvctl \(arguments.joined(separator: " ")) ran longer than \(timeLimit)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        process.waitUntilExit()
        return KvctlRun(
            status: process.terminationStatus,
            stdout: try String(contentsOf: outURL, encoding: .utf8),
            stderr: try String(contentsOf: errURL, encoding: .utf8))
    }
}
