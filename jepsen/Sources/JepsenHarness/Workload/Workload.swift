// What a workload is: operations to invoke, how a client performs them against the cluster, the
// reads that end the test, and the checker that judges the history. One file per workload.
import Foundation
import JepsenChecker
import KeelClient

/// One operation a worker is about to invoke: Jepsen's `:f` and `:value`.
public struct PlannedOperation: Sendable {
    /// The function, e.g. `read`, `write`, `cas`, `add`, `txn`.
    public var f: String
    /// The argument as recorded in the history.
    public var value: Value

    /// Creates a planned operation.
    public init(f: String, value: Value) {
        self.f = f
        self.value = value
    }
}

/// How an operation ended, as the history records it.
public struct OperationOutcome: Sendable {
    /// `.ok`, `.fail` (certainly not applied) or `.info` (unknown).
    public var type: OperationType
    /// The result (`:ok`) or the argument again.
    public var value: Value
    /// The error text, for `:fail` and `:info`.
    public var error: String?

    /// Creates an outcome.
    public init(type: OperationType, value: Value, error: String? = nil) {
        precondition(type != .invoke, "an outcome is a completion")
        self.type = type
        self.value = value
        self.error = error
    }
}

/// What the workload's checker decided.
public struct WorkloadVerdict: Sendable {
    /// valid, invalid or unknown.
    public var verdict: Verdict
    /// The checker's name, e.g. `independent-register`.
    public var checker: String
    /// A few lines for the terminal.
    public var summary: String
    /// The checker's full answer as a JSON value (text), embedded in results.json.
    public var json: String
    /// History operation ids that the checker blames, for log excerpts in the report.
    public var failingOperationIDs: [Int]
    /// The checker's own HTML report page, when it has one.
    public var html: String?

    /// Creates a verdict.
    public init(
        verdict: Verdict, checker: String, summary: String, json: String, failingOperationIDs: [Int] = [], html: String? = nil
    ) {
        self.verdict = verdict
        self.checker = checker
        self.summary = summary
        self.json = json
        self.failingOperationIDs = failingOperationIDs
        self.html = html
    }
}

/// A workload: generates operations, performs them through a client, and checks the history.
///
/// Implementations keep their generator state behind a lock: many workers ask at once.
public protocol Workload: Sendable {
    /// The name given to `--workload`.
    static var name: String { get }

    /// The next operation for a worker; `random` is that worker's own seeded generator.
    func nextOperation(random: inout SplitMix64) -> PlannedOperation

    /// Performs `operation` with `client` (whose only endpoint is one member) and says how it ended.
    func perform(_ operation: PlannedOperation, client: KeelClient, reads: ReadConsistency) async -> OperationOutcome

    /// The operations that end the test once every fault is healed, run once against each member.
    func finalOperations() -> [PlannedOperation]

    /// Judges the whole history.
    func check(_ history: History, timeLimit: Duration?) -> WorkloadVerdict
}

/// How clients read: etcd's default linearizable reads, or serializable reads from the member's own
/// state (the known-unsafe mode that a partition test must catch).
public enum ReadConsistency: String, Sendable, CaseIterable {
    /// ReadIndex (or lease) reads: linearizable.
    case linearizable
    /// Local reads: may be stale.
    case serializable
}

/// The workloads `--workload` accepts, by name.
public enum WorkloadCatalog {
    /// Every workload's name.
    public static let names = [
        RegisterWorkload.name, SetWorkload.name, AppendWorkload.name, LeaseWorkload.name, WatchWorkload.name, LockWorkload.name,
    ]

    /// Makes the named workload, or nil if there is none by that name.
    public static func make(_ name: String) -> (any Workload)? {
        switch name {
        case RegisterWorkload.name: RegisterWorkload()
        case SetWorkload.name: SetWorkload()
        case AppendWorkload.name: AppendWorkload()
        case LeaseWorkload.name: LeaseWorkload()
        case WatchWorkload.name: WatchWorkload()
        case LockWorkload.name: LockWorkload()
        default: nil
        }
    }
}

/// A small, fast, seeded generator (SplitMix64), one per worker, so a run's choices follow its seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator starting from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}

/// Turns a client error into a history outcome: reads never change state, so any failed read is
/// `:fail`; a write is `:fail` only when the request certainly was not taken, else `:info`.
enum ErrorClassifier {
    /// The server's texts that say a request was refused before it was proposed.
    static let notProposed: Set<String> = [
        "etcdserver: no leader", "etcdserver: not leader", "etcdserver: too many requests",
    ]

    /// The outcome of a failed operation.
    static func outcome(of error: any Error, value: Value, isWrite: Bool) -> OperationOutcome {
        guard let clientError = error as? KeelClientError else {
            return OperationOutcome(type: isWrite ? .info : .fail, value: value, error: "\(error)")
        }
        // The client knows whether any attempt may have delivered the request (no connection, or a
        // stream that never opened, means it did not); the server's own refusals say it was not proposed.
        let certainlyNotApplied =
            !isWrite || !clientError.mayHaveReachedServer || notProposed.contains(clientError.message)
        return OperationOutcome(type: certainlyNotApplied ? .fail : .info, value: value, error: clientError.message)
    }
}
