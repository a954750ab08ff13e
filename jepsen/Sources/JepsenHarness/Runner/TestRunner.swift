// One `jepsen test` run: build the cluster, run clients and faults on a schedule, heal, read,
// check, write the results, and tear everything down however the run ends.
import Foundation
import JepsenChecker
import KeelClient
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// How a run ended, and the exit status that says so (as `jepsen check`'s: 0 valid, 1 invalid,
/// 2 unknown, 3 the test could not run).
public struct TestOutcome: Sendable {
    /// The verdict, when the run got as far as checking.
    public var verdict: Verdict?
    /// The process exit status.
    public var exitStatus: Int32
    /// What to print last.
    public var message: String
}

/// Runs one test as configured.
public final class TestRunner: Sendable {
    /// The run's settings.
    public let configuration: TestConfiguration
    /// Where progress lines go (standard error by default).
    let log: @Sendable (String) -> Void

    /// Operations one client connection carries before the worker reconnects: grpc-swift's HTTP/2
    /// client drops a connection after 200 stream resets in 10 s, and etcd resets every finished stream.
    static let operationsPerConnectionMax = 150
    /// Attempts of each final operation on each member before the run gives up on it.
    static let finalAttemptsMax = 10
    /// The first process number of the final reads, far above the workers'.
    static let finalProcessBase = 10_000_000
    /// The pause before a final operation is tried again.
    static let finalRetryPause: Duration = .milliseconds(500)
    /// How long a session workload's clients have after the final heal to catch up.
    static let sessionDrainTime: Duration = .seconds(30)
    /// Past the drain and the final read, sessions that still run are cancelled after this much more.
    static let sessionSlack: Duration = .seconds(10)
    /// How long a fresh cluster may take to answer and agree on a leader.
    static let formationTimeout: Duration = .seconds(60)

    /// A runner; `log` receives one line per step.
    public init(configuration: TestConfiguration, log: @escaping @Sendable (String) -> Void) {
        self.configuration = configuration
        self.log = log
    }

    /// Checks what the run needs from the machine before anything is touched.
    public static func checkPreconditions(_ configuration: TestConfiguration) throws(HarnessError) {
        #if !os(Linux)
            throw HarnessError(.cannotRun, "jepsen test needs Linux (network namespaces, iptables)")
        #else
            guard geteuid() == 0 else {
                throw HarnessError(
                    .cannotRun, "jepsen test needs root: it creates network namespaces, a bridge and iptables rules")
            }
        #endif
        for tool in ["ip", "iptables"] where (try? Subprocess.run(["sh", "-c", "command -v \(tool)"]))?.status != 0 {
            throw HarnessError(.cannotRun, "jepsen test needs '\(tool)' (Debian: apt-get install iproute2 iptables)")
        }
        if let preload = configuration.serverPreload, !FileManager.default.fileExists(atPath: preload) {
            throw HarnessError(.cannotRun, "--server-preload \(preload) does not exist")
        }
        guard FileManager.default.isExecutableFile(atPath: configuration.binary) else {
            throw HarnessError(.cannotRun, "the server binary \(configuration.binary) does not exist or is not executable")
        }
        guard (1...TestNetwork.nodesMax).contains(configuration.nodeCount) else {
            throw HarnessError(.cannotRun, "--nodes must be 1...\(TestNetwork.nodesMax), got \(configuration.nodeCount)")
        }
        if configuration.nemeses.contains("clock") && !FileManager.default.fileExists(atPath: ClockNemesis.libraryPath) {
            throw HarnessError(
                .cannotRun, "nemesis 'clock' needs libfaketime (\(ClockNemesis.libraryPath)); apt-get install libfaketime")
        }
        guard WorkloadCatalog.names.contains(configuration.workload) else {
            throw HarnessError(
                .cannotRun,
                "unknown workload '\(configuration.workload)'; choose from \(WorkloadCatalog.names.joined(separator: ", "))")
        }
    }

    /// Runs the test. Cancelling the task (SIGINT) stops clients and faults, tears down, and ends
    /// with exit status 3.
    public func run() async -> TestOutcome {
        let configuration = configuration
        do {
            try Self.checkPreconditions(configuration)
        } catch {
            return TestOutcome(verdict: nil, exitStatus: 3, message: "jepsen test: \(error)")
        }
        let lock: RunLock
        do {
            lock = try RunLock()
        } catch {
            return TestOutcome(verdict: nil, exitStatus: 3, message: "jepsen test: \(error)")
        }
        defer { withExtendedLifetime(lock) {} }
        let leftovers = TestNetwork.removeAll()
        if !leftovers.isEmpty { log("removed what an earlier run left: \(leftovers.joined(separator: ", "))") }

        let directory = configuration.outputDirectory
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            // An earlier run's member data would be another cluster's: every run starts fresh. Only
            // now, holding the lock, so a refused run never touches a running one's folders.
            for index in 0..<TestNetwork.nodesMax where FileManager.default.fileExists(atPath: "\(directory)/n\(index + 1)") {
                try FileManager.default.removeItem(atPath: "\(directory)/n\(index + 1)")
            }
        } catch {
            return TestOutcome(verdict: nil, exitStatus: 3, message: "jepsen test: cannot create \(directory): \(error)")
        }
        var loseUnsynced: String?
        if configuration.nemeses.contains("crash") {
            do {
                loseUnsynced = try LoseUnsyncedLibrary.build(into: directory)
            } catch {
                return TestOutcome(verdict: nil, exitStatus: 3, message: "jepsen test: \(error)")
            }
        }
        let launch = ServerLaunch(
            binary: configuration.binary, extraArguments: configuration.serverArguments,
            fakeClockLibrary: configuration.nemeses.contains("clock") ? ClockNemesis.libraryPath : nil,
            loseUnsyncedLibrary: loseUnsynced, extraPreload: configuration.serverPreload)
        let nemeses: [any Nemesis]
        do {
            nemeses = try configuration.nemeses.map { name throws(HarnessError) in try NemesisCatalog.make(name, launch: launch) }
        } catch {
            return TestOutcome(verdict: nil, exitStatus: 3, message: "jepsen test: \(error)")
        }
        let workload = WorkloadCatalog.make(configuration.workload)!
        let cluster = TestCluster(nodeCount: configuration.nodeCount, directory: directory, launch: launch)
        let recorder = HistoryRecorder()
        var notes: [String] = []
        let phase: Result<RunPhase, any Error>
        do {
            phase = .success(
                try await runCluster(cluster, workload: workload, nemeses: nemeses, recorder: recorder, notes: &notes))
        } catch {
            phase = .failure(error)
        }
        // Teardown runs however the run ended: normal end, an error, or cancellation (SIGINT).
        for nemesis in nemeses { await nemesis.shutDown() }
        log("tearing down the cluster")
        await Blocking.run { cluster.tearDown() }
        switch phase {
        case .success(let phase):
            return finish(phase: phase, workload: workload, cluster: cluster, recorder: recorder, notes: notes)
        case .failure(is CancellationError):
            return TestOutcome(verdict: nil, exitStatus: 3, message: "jepsen test: interrupted; the cluster was torn down")
        case .failure(let error):
            return TestOutcome(verdict: nil, exitStatus: 3, message: "jepsen test: \(error)")
        }
    }

    /// What happened between the start of the cluster and its teardown.
    struct RunPhase {
        /// Members that did not answer after the final heal.
        var unrecovered: [String]
    }

    private func runCluster(
        _ cluster: TestCluster, workload: any Workload, nemeses: [any Nemesis], recorder: HistoryRecorder,
        notes: inout [String]
    ) async throws -> RunPhase {
        let configuration = configuration
        log("starting \(configuration.nodeCount) × \(configuration.binary) in namespaces \(TestNetwork.namespacePrefix)1…")
        try await Blocking.run { try cluster.start() }
        let silent = try await cluster.waitUntilReady(timeout: Self.formationTimeout)
        guard silent.isEmpty else {
            throw HarnessError(
                .setupFailed,
                "the cluster did not form within \(Self.formationTimeout) (no answer or no agreed leader from \(names(silent))); see \(configuration.outputDirectory)/*/server.log")
        }
        log("cluster ready; running \(configuration.workload) for \(configuration.duration) with nemesis [\(configuration.nemeses.joined(separator: ","))]")

        let deadline = ContinuousClock.now.advanced(by: configuration.duration)
        let budget = OperationBudget(configuration.operationsMax)
        let sessionWorkload = workload as? any SessionWorkload
        let context = SessionContext(
            members: cluster.nodes.map { SessionContext.Member(name: $0.name, endpoint: cluster.endpoint($0)) }, recorder: recorder,
            deadline: deadline, seed: configuration.seed, concurrency: configuration.concurrency,
            operationTimeout: configuration.operationTimeout)
        // The workload's own sessions run beside the workers and on past the heal; leaving this
        // group (normally or by an error) cancels and awaits them.
        return try await withThrowingTaskGroup(of: Bool.self, returning: RunPhase.self) { sessions in
            if let sessionWorkload {
                sessions.addTask {
                    await sessionWorkload.runSessions(context)
                    return true
                }
            }
            let unrecovered = try await runClientsAndHeal(
                cluster, workload: workload, nemeses: nemeses, recorder: recorder, deadline: deadline, budget: budget,
                workers: sessionWorkload?.usesWorkers ?? true, notes: &notes)
            if sessionWorkload != nil {
                let drainDeadline = ContinuousClock.now.advanced(by: Self.sessionDrainTime)
                log("letting the workload's sessions catch up and read the final history")
                context.beginDrain(until: drainDeadline)
                sessions.addTask {
                    try await Task.sleep(until: drainDeadline + SessionContext.finalReadTime + Self.sessionSlack, clock: .continuous)
                    return false
                }
                if try await sessions.next() == false {
                    notes.append("the workload's sessions did not finish in time after the final heal; they were cancelled")
                }
                sessions.cancelAll()
            }
            return RunPhase(unrecovered: unrecovered)
        }
    }

    /// The workers and the fault schedule until the deadline, then the final heal and the wait for
    /// every member; returns the members that did not answer.
    private func runClientsAndHeal(
        _ cluster: TestCluster, workload: any Workload, nemeses: [any Nemesis], recorder: HistoryRecorder,
        deadline: ContinuousClock.Instant, budget: OperationBudget, workers: Bool, notes: inout [String]
    ) async throws -> [String] {
        let configuration = configuration
        try await withThrowingTaskGroup(of: Void.self) { group in
            if !workers {
                // Without workers the faults still run their full time, and the heal waits for it.
                group.addTask { try await Task.sleep(until: deadline, clock: .continuous) }
            }
            for worker in 0..<(workers ? configuration.concurrency : 0) {
                group.addTask {
                    await self.work(
                        worker, cluster: cluster, workload: workload, recorder: recorder, deadline: deadline, budget: budget)
                }
            }
            if !nemeses.isEmpty {
                group.addTask {
                    try await self.scheduleFaults(nemeses, cluster: cluster, recorder: recorder, deadline: deadline)
                }
            }
            try await group.waitForAll()
        }

        log("healing every fault")
        // Membership last: adding a member back needs the others running and answering.
        for nemesis in nemeses.sorted(by: { ($0.name == "member" ? 1 : 0) < ($1.name == "member" ? 1 : 0) }) {
            let what = try await nemesis.heal(cluster)
            recorder.record(process: .nemesis, type: .info, f: "stop-\(nemesis.name)", value: .string("final heal: \(what)"))
        }
        // A member that exited by itself (ServerNode records it as a crash) is restarted for the
        // final reads; the crash still makes the run invalid.
        for node in cluster.nodes where node.pid != nil && !node.isRunning() && !node.isRemoved {
            notes.append("\(node.name) was down after the final heal; restarted for the final reads")
            try await Blocking.run { try cluster.restart(node) }
        }
        log("waiting up to \(configuration.recoveryTimeout) for every member to answer")
        let unrecovered = try await cluster.waitUntilReady(timeout: configuration.recoveryTimeout).map(\.name)
        if !unrecovered.isEmpty {
            notes.append("no agreed leader or no answer from \(unrecovered.joined(separator: " ")) within \(configuration.recoveryTimeout) after the final heal")
        }
        try await finalOperations(cluster: cluster, workload: workload, recorder: recorder)
        return unrecovered
    }

    /// One client process: operations against one member until the deadline or the budget runs out.
    private func work(
        _ worker: Int, cluster: TestCluster, workload: any Workload, recorder: HistoryRecorder, deadline: ContinuousClock.Instant,
        budget: OperationBudget
    ) async {
        let configuration = configuration
        var random = SplitMix64(seed: configuration.seed &* 0x2545_F491_4F6C_DD1D &+ UInt64(worker))
        var process = worker
        let node = cluster.nodes[worker % cluster.nodes.count]
        let meanPause = Double(configuration.concurrency) / max(configuration.rate, 0.001)
        let clientConfiguration = KeelClientConfiguration(
            endpoints: [cluster.endpoint(node)], dialTimeout: min(configuration.operationTimeout, .seconds(1)),
            commandTimeout: configuration.operationTimeout)
        func keepGoing() -> Bool {
            !Task.isCancelled && ContinuousClock.now < deadline && !recorder.isFull && budget.take()
        }
        var running = true
        while running {
            do {
                try await KeelClient.withClient(clientConfiguration) { client in
                    for _ in 0..<Self.operationsPerConnectionMax {
                        guard keepGoing() else {
                            running = false
                            return
                        }
                        let planned = workload.nextOperation(random: &random)
                        recorder.record(process: .client(process), type: .invoke, f: planned.f, value: planned.value, node: node.name)
                        let outcome = await workload.perform(planned, client: client, reads: configuration.reads)
                        recorder.record(
                            process: .client(process), type: outcome.type, f: planned.f, value: outcome.value,
                            error: outcome.error, node: node.name)
                        // Jepsen's rule: a process whose operation is unknown never invokes again.
                        if outcome.type == .info { process += configuration.concurrency }
                        let pause = Double.random(in: 0...(2 * meanPause), using: &random)
                        try await Task.sleep(for: .milliseconds(Int(pause * 1000)))
                    }
                }
            } catch {
                running = false
            }
        }
    }

    /// Alternates a healthy interval and a fault until the deadline. Faults come in rounds: each
    /// round takes every enabled nemesis once, in a random order, so a short run still sees each kind.
    private func scheduleFaults(
        _ nemeses: [any Nemesis], cluster: TestCluster, recorder: HistoryRecorder, deadline: ContinuousClock.Instant
    ) async throws {
        var random = SplitMix64(seed: configuration.seed ^ 0x6E65_6D65_7369_7300)
        let interval = configuration.nemesisInterval
        func sleepUntil(_ instant: ContinuousClock.Instant) async throws {
            try await Task.sleep(until: min(instant, deadline), clock: .continuous)
        }
        var round: [any Nemesis] = []
        while ContinuousClock.now < deadline {
            try await sleepUntil(ContinuousClock.now.advanced(by: interval))
            guard ContinuousClock.now < deadline else { break }
            if round.isEmpty { round = nemeses.shuffled(using: &random) }
            let nemesis = round.removeFirst()
            let what = try await nemesis.inject(into: cluster, random: &random)
            log("nemesis: \(what)")
            recorder.record(process: .nemesis, type: .info, f: "start-\(nemesis.name)", value: .string(what))
            try await sleepUntil(ContinuousClock.now.advanced(by: interval))
            let healed = try await nemesis.heal(cluster)
            log("nemesis: \(healed)")
            recorder.record(process: .nemesis, type: .info, f: "stop-\(nemesis.name)", value: .string(healed))
        }
    }

    /// The workload's final operations against every member, each retried until it succeeds (bounded).
    private func finalOperations(cluster: TestCluster, workload: any Workload, recorder: HistoryRecorder) async throws {
        let operations = workload.finalOperations()
        guard !operations.isEmpty else { return }
        log("final reads from every member")
        var process = Self.finalProcessBase
        for node in cluster.nodes {
            let clientConfiguration = KeelClientConfiguration(
                endpoints: [cluster.endpoint(node)], dialTimeout: .seconds(1), commandTimeout: configuration.operationTimeout)
            for operation in operations {
                var attempts = 0
                while attempts < Self.finalAttemptsMax {
                    attempts += 1
                    try Task.checkCancellation()
                    recorder.record(process: .client(process), type: .invoke, f: operation.f, value: operation.value, node: node.name)
                    let outcome: OperationOutcome
                    do {
                        outcome = try await KeelClient.withClient(clientConfiguration) { client in
                            await workload.perform(operation, client: client, reads: .linearizable)
                        }
                    } catch {
                        outcome = OperationOutcome(type: .fail, value: operation.value, error: "\(error)")
                    }
                    recorder.record(
                        process: .client(process), type: outcome.type, f: operation.f, value: outcome.value,
                        error: outcome.error, node: node.name)
                    process += 1
                    if outcome.type == .ok { break }
                    try await Task.sleep(for: Self.finalRetryPause)
                }
            }
        }
    }

    /// Writes the history, checks it, writes results.json and report.html, and decides the exit status.
    private func finish(
        phase: RunPhase, workload: any Workload, cluster: TestCluster, recorder: HistoryRecorder, notes: [String]
    ) -> TestOutcome {
        let configuration = configuration
        let directory = configuration.outputDirectory
        let entries = recorder.recorded
        let events = entries.map(\.event)
        do {
            try EDNHistory.write(events).write(toFile: directory + "/history.edn", atomically: true, encoding: .utf8)
        } catch {
            return TestOutcome(verdict: nil, exitStatus: 3, message: "jepsen test: cannot write the history: \(error)")
        }
        let history: History
        do {
            history = try History(events: events)
        } catch {
            return TestOutcome(verdict: nil, exitStatus: 3, message: "jepsen test: the recorded history is malformed: \(error)")
        }
        log("checking \(history.operations.count) operations with the \(configuration.workload) checker")
        let checked = workload.check(history, timeLimit: configuration.checkTimeLimit)
        var verdict = checked.verdict
        var reasons: [String] = []
        if !phase.unrecovered.isEmpty {
            verdict = .invalid
            reasons.append("liveness: \(phase.unrecovered.joined(separator: " ")) did not recover after the final heal")
        }
        // Read after teardown, so a crash during the final reads or at shutdown counts too.
        let crashes = cluster.nodes.flatMap(\.unexpectedExits)
        if !crashes.isEmpty {
            verdict = .invalid
            reasons.append("crash: " + crashes.joined(separator: "; ") + " (not killed by the harness; see server.log)")
        }
        let results = TestResults(
            configuration: configuration, entries: entries, history: history, checked: checked, verdict: verdict,
            reasons: reasons, notes: notes, startedAt: recorder.startedAt)
        do {
            try results.json().write(toFile: directory + "/results.json", atomically: true, encoding: .utf8)
            if let checkerPage = checked.html {
                try checkerPage.write(toFile: directory + "/checker.html", atomically: true, encoding: .utf8)
            }
            let report = TestReport.render(results: results, cluster: cluster)
            try report.write(toFile: directory + "/report.html", atomically: true, encoding: .utf8)
        } catch {
            return TestOutcome(verdict: verdict, exitStatus: 3, message: "jepsen test: cannot write the results: \(error)")
        }
        let status: Int32 =
            switch verdict {
            case .valid: 0
            case .invalid: 1
            case .unknown: 2
            }
        let counts = results.outcomeCounts
        let message = """
            \(checked.summary)
            operations: \(counts[.ok, default: 0]) ok, \(counts[.fail, default: 0]) failed, \(counts[.info, default: 0]) unknown
            \(reasons.isEmpty ? "" : reasons.joined(separator: "\n") + "\n")verdict: \(verdict.rawValue.uppercased())   (\(directory)/report.html)
            """
        return TestOutcome(verdict: verdict, exitStatus: status, message: message)
    }
}

/// How many client operations may still be invoked, shared by the workers.
final class OperationBudget: Sendable {
    private let left: Mutex<Int>

    init(_ count: Int) { left = Mutex(count) }

    /// Takes one operation from the budget; false when none is left.
    func take() -> Bool {
        left.withLock { left in
            guard left > 0 else { return false }
            left -= 1
            return true
        }
    }
}
