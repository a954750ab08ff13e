import ArgumentParser
import Foundation
import KeelClient

/// `watch [KEY [RANGE_END]] [--prefix] [--rev N] [--prev-kv] [-i] [-- COMMAND ARGS...]`: prints
/// each event as etcdctl 3.4 does; with a command, runs it after each event with ETCD_WATCH_*
/// set; with `-i`, reads `watch ...` lines from standard input and runs each as a watch.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "watch", abstract: "Watches events stream on keys or prefixes.")

    @OptionGroup var global: GlobalOptions
    @Flag(name: [.customShort("i"), .customLong("interactive")], help: "Interactive mode.") var interactive = false
    @Flag(help: "Watch on a prefix if prefix is set.") var prefix = false
    @Option(help: "Revision to start watching.") var rev: Int64 = 0
    @Flag(name: .customLong("prev-kv"), help: "Get the previous key-value pair before the event happens.") var prevKV = false
    @Argument(help: "The key.") var key: String?
    @Argument(help: "The end of the range [KEY, RANGE_END).") var rangeEnd: String?
    @Argument(parsing: .postTerminator, help: "A command to run after each event.") var command: [String] = []

    func run() async throws {
        let printer = EtcdctlPrinter(format: global.writeOut)
        if interactive {
            try await global.withClient { client in try await runInteractive(client: client, printer: printer) }
            return
        }
        let request = try WatchRequestLine(keys: [key, rangeEnd].compactMap { $0 }, prefix: prefix, rev: rev, prevKV: prevKV, command: command).validated()
        try await global.withClient { client in try await request.run(client: client, printer: printer) }
    }

    /// Lines from standard input, each a watch; the first bad read ends the command as etcdctl does.
    private func runInteractive(client: KeelClient, printer: EtcdctlPrinter) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            let input = StandardInputLines.start()
            for await line in input.lines {
                input.taken.signal()
                let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
                guard words.first == "watch" else {
                    FileHandle.standardError.write(Data("Invalid command \(line) (only support watch)\n".utf8))
                    continue
                }
                guard let request = try? WatchRequestLine.parse(Array(words.dropFirst())).validated() else {
                    FileHandle.standardError.write(Data("Invalid command \(line) (command type or key is not provided)\n".utf8))
                    continue
                }
                group.addTask { try await request.run(client: client, printer: printer) }
            }
            throw CommandFailure(
                message: "Error reading watch request line: EOF", exitCode: EtcdctlUsageError.invalidInputExitCode)
        }
    }
}

/// One watch as given on the command line or an interactive line.
struct WatchRequestLine: Sendable {
    var keys: [String]
    var prefix: Bool
    var rev: Int64
    var prevKV: Bool
    var command: [String]

    /// Reads the words of an interactive `watch` line (after "watch"): the same flags and arguments.
    static func parse(_ words: [String]) throws -> WatchRequestLine {
        var line = WatchRequestLine(keys: [], prefix: false, rev: 0, prevKV: false, command: [])
        var index = 0
        while index < words.count {
            let word = words[index]
            switch word {
            case "--":
                line.command = Array(words[(index + 1)...])
                index = words.count
                continue
            case "--prefix": line.prefix = true
            case "--prev-kv": line.prevKV = true
            case "--rev":
                index += 1
                guard index < words.count, let rev = Int64(words[index]) else { throw EtcdctlUsageError("bad --rev") }
                line.rev = rev
            case _ where word.hasPrefix("--rev="):
                guard let rev = Int64(word.dropFirst("--rev=".count)) else { throw EtcdctlUsageError("bad --rev") }
                line.rev = rev
            default: line.keys.append(word)
            }
            index += 1
        }
        return line
    }

    /// Checks the arguments as etcdctl does, with its messages.
    func validated() throws -> WatchRequestLine {
        guard !keys.isEmpty, keys.count <= 2 else {
            throw CommandFailure(message: "bad number of arguments", exitCode: EtcdctlUsageError.badArgumentsExitCode)
        }
        if prefix && keys.count == 2 {
            throw CommandFailure(
                message: "`range_end` and `--prefix` are mutually exclusive", exitCode: EtcdctlUsageError.badArgumentsExitCode)
        }
        return self
    }

    /// Watches and prints until the watch ends (it throws etcdctl's failure then).
    func run(client: KeelClient, printer: EtcdctlPrinter) async throws {
        let key = Data(keys[0].utf8)
        var options = prefix ? WatchOptions.prefix(of: key) : WatchOptions()
        if keys.count == 2 { options.rangeEnd = Data(keys[1].utf8) }
        options.startRevision = rev
        options.prevKV = prevKV
        do {
            for try await response in client.watch(key, options: options) {
                emit(try printer.watch(response))
                guard !command.isEmpty else { continue }
                for event in response.events {
                    let environment = EtcdctlPrinter.watchEnvironment(event, headerRevision: response.header.revision)
                    let status = try ChildCommand.run(command, environment: environment)
                    guard status == 0 else {
                        let quoted = "[" + command.map(EtcdctlPrinter.goQuoted).joined(separator: " ") + "]"
                        FileHandle.standardError.write(Data("command \(quoted) error (exit status \(status))\n".utf8))
                        Foundation.exit(CommandFailure.callFailedExitCode)
                    }
                }
            }
        } catch let error as KeelClientError where error.code != .unavailable && error.code != .deadlineExceeded {
            // The server ended the watch (compacted, refused): etcdctl's two lines, and with
            // `-w json` the cancelling answer itself.
            if printer.format == .json, let cancellation = error.watchCancellation {
                emit(CommandOutput(stdout: printer.watchCancellation(cancellation)))
            }
            FileHandle.standardError.write(Data(EtcdctlPrinter.watchCanceled(reason: error.message).utf8))
            throw CommandFailure(
                message: EtcdctlPrinter.watchCanceledError.message, exitCode: EtcdctlPrinter.watchCanceledError.exitCode)
        }
    }
}

/// Runs a user's command with standard output and error inherited, as etcdctl's exec does.
enum ChildCommand {
    /// Runs `arguments` (the first found on PATH unless it holds a "/") with `environment` added to
    /// this process's, and returns its exit status.
    static func run(_ arguments: [String], environment: [String: String]) throws -> Int32 {
        precondition(!arguments.isEmpty, "a command has a name")
        let process = Process()
        process.executableURL = try locate(arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    static func locate(_ name: String) throws -> URL {
        if name.contains("/") { return URL(fileURLWithPath: name) }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw CommandFailure(message: "exec: \(EtcdctlPrinter.goQuoted(name)): executable file not found in $PATH")
    }
}

/// Standard input's lines, read on a thread of their own (a blocking read would hold one of the
/// few threads the tasks share). The reader stays at most ``linesBufferedMax`` lines ahead.
enum StandardInputLines {
    /// Lines read but not yet taken before the reading thread waits.
    static let linesBufferedMax = 16

    /// The lines, and the semaphore to signal once per line taken.
    static func start() -> (lines: AsyncStream<String>, taken: DispatchSemaphore) {
        let room = DispatchSemaphore(value: linesBufferedMax)
        let (lines, continuation) = AsyncStream.makeStream(of: String.self)
        let thread = Thread {
            while let line = readLine(strippingNewline: true) {
                room.wait()
                continuation.yield(line)
            }
            continuation.finish()
        }
        thread.start()
        return (lines, room)
    }
}
