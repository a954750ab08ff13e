// `jepsen test`: one run of a workload against a real cluster under faults.
import ArgumentParser
import Dispatch
import Foundation
import JepsenChecker
import JepsenHarness

#if canImport(Glibc)
    import Glibc
#endif

/// `jepsen test`.
struct TestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run a workload against a real cluster in network namespaces, under faults, and check what clients saw.",
        discussion: """
            Needs root on Linux (network namespaces, a bridge, iptables). One run per machine at a time.
            Writes DIR/history.edn, DIR/results.json, DIR/report.html and each node's log and data under DIR/nN/.
            Exit status: 0 valid, 1 invalid, 2 unknown, 3 the test could not run (the reason is printed).
            """)

    @Option(help: "The workload: \(WorkloadCatalog.names.joined(separator: ", ")).")
    var workload = "register"

    @Option(help: "How many members (3, 5 or 7; 1 to \(TestNetwork.nodesMax) work).")
    var nodes = 3

    @Option(help: "Seconds of client operations, before the final heal and reads.")
    var time = 60.0

    @Option(help: "Comma-separated faults: \(NemesisCatalog.names.joined(separator: ", ")); 'none' for none. 'crash' is a SIGKILL that also loses every write the server did not fsync.")
    var nemesis = "partition"

    @Option(help: "The server: kvd, or any server that takes etcd's flags (e.g. /usr/bin/etcd).")
    var binary = ".build/release/kvd"

    @Option(parsing: .unconditional, help: "Extra server flags, as one string split on spaces.")
    var serverArgs = ""

    @Option(help: "A shared library preloaded into every server before the harness's own (for testing the harness).")
    var serverPreload: String?

    @Option(help: "linearizable (etcd's default) or serializable (local reads; must be caught under partitions).")
    var readConsistency = "linearizable"

    @Option(help: "Client operations per second over all clients, at most.")
    var rate = 100.0

    @Option(help: "Client processes running at once.")
    var concurrency = 10

    @Option(help: "Seconds before one client operation is given up (a write then has an unknown outcome).")
    var opTimeout = 5.0

    @Option(help: "Seed of every random choice (workload, faults, schedule).")
    var seed: UInt64 = 1

    @Option(help: "Seconds a fault lasts, and seconds of calm between faults.")
    var nemesisInterval = 5.0

    @Option(help: "At most this many client operations, whatever --time says.")
    var opsMax = 100_000

    @Option(help: "Seconds the checker may search before it answers unknown.")
    var checkTimeout = 120.0

    @Option(help: "Output folder (member folders n1… left in it by an earlier run are deleted first).")
    var out: String

    func validate() throws {
        guard ReadConsistency(rawValue: readConsistency) != nil else {
            throw ValidationError("--read-consistency must be linearizable or serializable, not '\(readConsistency)'")
        }
        guard time > 0, time <= 24 * 3600 else { throw ValidationError("--time must be between 0 and 86400 seconds") }
        guard rate > 0 else { throw ValidationError("--rate must be positive") }
        guard (1...1000).contains(concurrency) else { throw ValidationError("--concurrency must be 1...1000") }
        guard opTimeout > 0 else { throw ValidationError("--op-timeout must be positive") }
        guard nemesisInterval > 0 else { throw ValidationError("--nemesis-interval must be positive") }
        guard opsMax > 0 else { throw ValidationError("--ops-max must be positive") }
    }

    func run() async throws {
        let nemeses = nemesis == "none" || nemesis.isEmpty ? [] : nemesis.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let binaryPath = binary.contains("/") ? binary : (which(binary) ?? binary)
        let configuration = TestConfiguration(
            workload: workload, nodeCount: nodes, duration: .milliseconds(Int(time * 1000)), nemeses: nemeses,
            binary: URL(fileURLWithPath: binaryPath).standardizedFileURL.path,
            serverArguments: serverArgs.split(separator: " ").map(String.init), reads: ReadConsistency(rawValue: readConsistency)!,
            rate: rate, concurrency: concurrency, operationTimeout: .milliseconds(Int(opTimeout * 1000)), seed: seed,
            nemesisInterval: .milliseconds(Int(nemesisInterval * 1000)), operationsMax: opsMax,
            outputDirectory: URL(fileURLWithPath: out).standardizedFileURL.path,
            checkTimeLimit: .milliseconds(Int(checkTimeout * 1000)),
            serverPreload: serverPreload.map { URL(fileURLWithPath: $0).standardizedFileURL.path })
        let runner = TestRunner(configuration: configuration) { line in
            printError("jepsen: \(line)")
        }
        // SIGINT and SIGTERM stop the run, and the runner tears the cluster down before it returns;
        // a second signal exits at once (the next run, or `jepsen clean`, removes what is left).
        let run = RunTaskHolder()
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let sources = [SIGINT, SIGTERM].map { (number: Int32) -> any DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if run.signalled() {
                    printError("jepsen: second signal: exiting without teardown; `jepsen clean` removes what is left")
                    Glibc.exit(3)
                }
                printError("jepsen: signal \(number): stopping and tearing down (signal again to exit at once)")
            }
            source.resume()
            return source
        }
        let task = Task { await runner.run() }
        run.set(task)
        let outcome = await task.value
        for source in sources { source.cancel() }
        print(outcome.message)
        if outcome.exitStatus != 0 { throw ExitCode(outcome.exitStatus) }
    }

    private func which(_ name: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}

/// The running test's task, so a signal that arrives at any moment can cancel it.
///
/// `@unchecked Sendable`: both fields are read and written only under `lock`.
final class RunTaskHolder: @unchecked Sendable {
    private let lock = NSLock()
    private var task: Task<TestOutcome, Never>?
    private var signals = 0

    /// Records the task; cancels it at once if a signal already came.
    func set(_ task: Task<TestOutcome, Never>) {
        lock.lock()
        self.task = task
        let cancelled = signals > 0
        lock.unlock()
        if cancelled { task.cancel() }
    }

    /// Counts a signal and cancels the task; true if this is not the first signal.
    func signalled() -> Bool {
        lock.lock()
        signals += 1
        let repeated = signals > 1
        let task = task
        lock.unlock()
        task?.cancel()
        return repeated
    }
}

/// `jepsen clean`: removes whatever a killed run left behind.
struct Clean: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove the namespaces, links and server processes a killed `jepsen test` left behind.")

    func run() throws {
        guard geteuid() == 0 else {
            printError("jepsen clean: needs root")
            throw ExitCode(3)
        }
        let removed = TestNetwork.removeAll()
        print(removed.isEmpty ? "nothing to remove" : "removed: " + removed.joined(separator: ", "))
    }
}
