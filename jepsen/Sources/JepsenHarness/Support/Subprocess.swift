// Child processes through posix_spawn and waitpid, so the harness knows each server's real pid
// (Foundation's Process can miss an exit, and `ip netns exec` and `env` exec in place, so the pid
// we spawn is the server's own).
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A failure to run a command, with the command line and what it printed.
public struct CommandError: Error, CustomStringConvertible, Sendable {
    /// The command line, joined with spaces.
    public var command: String
    /// The exit status, or nil when it could not be started.
    public var status: Int32?
    /// Standard output and error, trimmed.
    public var output: String

    /// `ip link add … failed (exit 2): RTNETLINK answers: File exists`.
    public var description: String {
        let how = status.map { "exit \($0)" } ?? "not started"
        return "\(command) failed (\(how))" + (output.isEmpty ? "" : ": \(output)")
    }
}

/// Starts and waits for child processes.
public enum Subprocess {
    /// The longest output kept from a short command; tools here print a few lines.
    static let capturedOutputBytesMax = 1 << 20

    /// Runs `arguments` (the first is looked up in PATH) to completion and returns its exit status
    /// and combined output.
    public static func run(_ arguments: [String]) throws(CommandError) -> (status: Int32, output: String) {
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else {
            throw CommandError(command: arguments.joined(separator: " "), status: nil, output: "pipe: \(errnoText())")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 2)
        posix_spawn_file_actions_addclose(&actions, pipeEnds[1])
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let pid: pid_t
        do {
            pid = try spawn(arguments, actions: &actions, environment: nil, newProcessGroup: false)
        } catch {
            close(pipeEnds[0])
            close(pipeEnds[1])
            throw error
        }
        close(pipeEnds[1])
        var collected: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(pipeEnds[0], &buffer, buffer.count)
            if count > 0 {
                if collected.count < capturedOutputBytesMax { collected.append(contentsOf: buffer[0..<count]) }
            } else if count == 0 || errno != EINTR {
                break
            }
        }
        close(pipeEnds[0])
        let status = waitForExit(pid)
        let output = String(decoding: collected, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return (status, output)
    }

    /// Runs `arguments` and throws unless it exits 0; returns its output.
    @discardableResult
    public static func check(_ arguments: [String]) throws(CommandError) -> String {
        let (status, output) = try run(arguments)
        guard status == 0 else {
            throw CommandError(command: arguments.joined(separator: " "), status: status, output: output)
        }
        return output
    }

    /// Starts `arguments` in the background in its own process group, with standard output and
    /// error appended to `logPath` and `environment` added to the harness's own.
    public static func start(_ arguments: [String], logPath: String, environment: [String: String] = [:]) throws(CommandError)
        -> pid_t
    {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var merged = ProcessInfo.processInfo.environment
        for (name, value) in environment { merged[name] = value }
        return try spawn(arguments, actions: &actions, environment: merged, newProcessGroup: true)
    }

    /// Waits for `pid` to exit and returns its exit status (128 + signal when killed).
    @discardableResult
    public static func waitForExit(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        return decode(status)
    }

    /// Whether `pid` has exited, reaping it if so; nil while it runs.
    public static func exitStatusIfExited(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == 0 { return nil }
        if result < 0 { return -1 }
        return decode(status)
    }

    private static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    private static func spawn(
        _ arguments: [String], actions: inout posix_spawn_file_actions_t, environment: [String: String]?,
        newProcessGroup: Bool
    ) throws(CommandError) -> pid_t {
        precondition(!arguments.isEmpty, "a command needs a program")
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The harness may have blocked or ignored signals (SIGINT handling); children start clean.
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if newProcessGroup {
            // A Ctrl-C at the terminal reaches the harness, which stops the servers itself.
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let envp: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { for pointer in envp ?? [] { free(pointer) } }
        var pid: pid_t = 0
        let result: Int32 =
            if let envp {
                posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
            } else {
                posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, environ)
            }
        guard result == 0 else {
            throw CommandError(
                command: arguments.joined(separator: " "), status: nil, output: String(cString: strerror(result)))
        }
        return pid
    }
}

/// The text of the current `errno`.
func errnoText() -> String { String(cString: strerror(errno)) }
