// Everything `jepsen test` was asked to do.
import Foundation

/// The settings of one test run.
public struct TestConfiguration: Sendable {
    /// The workload's name.
    public var workload: String
    /// How many members.
    public var nodeCount: Int
    /// How long clients run, before the final heal and reads.
    public var duration: Duration
    /// The nemeses' names; empty for a run without faults.
    public var nemeses: [String]
    /// The server executable.
    public var binary: String
    /// Extra server flags.
    public var serverArguments: [String]
    /// How clients read.
    public var reads: ReadConsistency
    /// Operations per second over all workers, at most.
    public var rate: Double
    /// How many workers (client processes) run at once.
    public var concurrency: Int
    /// How long one client operation may take before it is given up (`:info` for a write).
    public var operationTimeout: Duration
    /// The seed of every random choice the harness makes.
    public var seed: UInt64
    /// How long a fault lasts, and how long the cluster is left healthy between faults.
    public var nemesisInterval: Duration
    /// The most client operations, whatever the time.
    public var operationsMax: Int
    /// Where everything goes.
    public var outputDirectory: String
    /// How long the checker may search before it answers unknown.
    public var checkTimeLimit: Duration
    /// How long the cluster may take to answer after every fault is healed.
    public var recoveryTimeout: Duration
    /// A library preloaded into every server before the harness's own, if any.
    public var serverPreload: String?

    /// Creates a configuration with Jepsen-like defaults for what is not given.
    public init(
        workload: String, nodeCount: Int = 3, duration: Duration = .seconds(60), nemeses: [String] = [],
        binary: String, serverArguments: [String] = [], reads: ReadConsistency = .linearizable, rate: Double = 100,
        concurrency: Int = 10, operationTimeout: Duration = .seconds(5), seed: UInt64 = 1,
        nemesisInterval: Duration = .seconds(5), operationsMax: Int = 100_000, outputDirectory: String,
        checkTimeLimit: Duration = .seconds(120), recoveryTimeout: Duration = .seconds(60), serverPreload: String? = nil
    ) {
        self.serverPreload = serverPreload
        self.workload = workload
        self.nodeCount = nodeCount
        self.duration = duration
        self.nemeses = nemeses
        self.binary = binary
        self.serverArguments = serverArguments
        self.reads = reads
        self.rate = rate
        self.concurrency = concurrency
        self.operationTimeout = operationTimeout
        self.seed = seed
        self.nemesisInterval = nemesisInterval
        self.operationsMax = operationsMax
        self.outputDirectory = outputDirectory
        self.checkTimeLimit = checkTimeLimit
        self.recoveryTimeout = recoveryTimeout
    }
}
