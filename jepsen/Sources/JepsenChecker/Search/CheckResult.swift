/// The checker's answer.
public enum Verdict: String, Sendable, Equatable {
    /// Some order of the operations, consistent with real time, satisfies the model.
    case valid
    /// No such order exists.
    case invalid
    /// The search stopped (time limit) before deciding; never a guess.
    case unknown
}

/// One operation placed in a linearization, with the model's state around it.
public struct LinearizedOperation: Sendable, Equatable {
    /// The operation's `HistoryOperation.id`.
    public var operationID: Int
    /// The state just before it took effect.
    public var stateBefore: String
    /// The state just after.
    public var stateAfter: String
}

/// The verdict for one partition, with what the report needs to explain it.
public struct PartitionResult: Sendable {
    /// The partition's key, if the model splits the history.
    public var key: Value?
    /// The operations checked (ids), failed ones excluded.
    public var operationIDs: [Int]
    /// This partition's verdict.
    public var verdict: Verdict
    /// For valid: a full linearization. For invalid: the longest linearizable prefix found.
    public var linearization: [LinearizedOperation]
    /// For invalid: the operation whose completion was reached before it could be linearized.
    public var failingOperationID: Int?
    /// For invalid: every state the model could be in when the failing operation had to take effect
    /// (reached by some consistent prefix, the longest one included).
    public var possibleStates: [String]
    /// Number of search steps taken, a measure of effort.
    public var searchSteps: Int
}

/// The checker's answer for a whole history.
public struct CheckResult: Sendable {
    /// Invalid if any partition is invalid; otherwise unknown if any is unknown; otherwise valid.
    public var verdict: Verdict
    /// The model's name.
    public var model: String
    /// The model's initial state, described (e.g. `0`, `absent`, `{:x 0, :y 0}`).
    public var initialState: String
    /// Per-partition details, in the model's partition order.
    public var partitions: [PartitionResult]
    /// Wall-clock time the search took.
    public var elapsed: Duration
    /// A one-line description of every operation by id, for reports.
    public var operationDescriptions: [String]

    /// The first invalid partition, which the report explains.
    public var firstInvalidPartition: PartitionResult? {
        partitions.first { $0.verdict == .invalid }
    }
}
