import Foundation

/// What a finished command printed and how it ended.
struct ClusterCommandResult {
    /// The exit status; `nil` when the command was killed because it ran past its time limit.
    var status: Int32?
    var stdout: String
    var stderr: String
    /// Wall-clock time from launch to exit (or to the kill).
    var elapsedSeconds: Double

    var succeeded: Bool { status == 0 }

    /// Everything it printed, for failure messages.
    var transcript: String {
        "exit \(status.map(String.init) ?? "killed after time limit") in \(String(format: "%.2f", elapsedSeconds)) s\n"
            + "--- stdout\n\(stdout)--- stderr\n\(stderr)"
    }
}

/// Runs short-lived programs (kvctl, etcdctl) to completion with a hard time limit, so a client that
/// hangs cannot hang the test. Output goes to files, not pipes: a pipe that nobody drains blocks a
/// chatty child.
enum ClusterCommand {
    /// How often a running command is checked for exit.
    static let pollIntervalMicroseconds: UInt32 = 5_000
    /// How long an interrupted command gets to finish (etcdctl's elect and lock resign or unlock on
    /// SIGINT) before it is killed.
    static let interruptGraceSeconds = 10.0

    static func run(
        _ executable: URL,
        _ arguments: [String],
        stdin: Data? = nil,
        environment: [String: String] = [:],
        timeLimitSeconds: Double,
        interruptAtLimit: Bool = false,
        scratch: URL
    ) throws -> ClusterCommandResult {
        let id = UUID().uuidString
        let outURL = scratch.appendingPathComponent("cmd-\(id).out")
        let errURL = scratch.appendingPathComponent("cmd-\(id).err")
        let inURL = scratch.appendingPathComponent("cmd-\(id).in")
        defer { for url in [outURL, errURL, inURL] { try? FileManager.default.removeItem(at: url) } }
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        FileManager.default.createFile(atPath: inURL.path, contents: stdin ?? Data())

        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        let input = try FileHandle(forReadingFrom: inURL)
        defer { try? out.close(); try? err.close(); try? input.close() }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input

        let start = Date()
        try process.run()
        var deadline = start.addingTimeInterval(timeLimitSeconds)
        var interrupted = false
        var killed = false
        var reapedStatus: Int32?
        while process.isRunning {
            // Foundation sometimes never notices the exit of a child whose own children live on
            // (cluster/keel-cluster's nodes): reap it here when it is a zombie.
            var raw: Int32 = 0
            if waitpid(process.processIdentifier, &raw, WNOHANG) == process.processIdentifier {
                reapedStatus = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
                break
            }
            if Date() >= deadline, interruptAtLimit, !interrupted {
                // As `timeout -s INT` stops it when the golden files are recorded: the command
                // cleans up and exits with its own status.
                kill(process.processIdentifier, SIGINT)
                interrupted = true
                deadline = Date().addingTimeInterval(interruptGraceSeconds)
            } else if Date() >= deadline {
                kill(process.processIdentifier, SIGKILL)
                killed = true
                break
            }
            usleep(pollIntervalMicroseconds)
        }
        if reapedStatus == nil { process.waitUntilExit() }
        let elapsed = Date().timeIntervalSince(start)
        return ClusterCommandResult(
            status: killed ? nil : (reapedStatus ?? shellStatus(process)),
            stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "",
            elapsedSeconds: elapsed
        )
    }

    /// The status as a shell (and `timeout --preserve-status`) reports it: 128 + the signal for a
    /// process that a signal ended.
    private static func shellStatus(_ process: Process) -> Int32 {
        process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }
}
