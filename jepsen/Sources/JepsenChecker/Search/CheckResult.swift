/// The checker's answer.
public enum Verdict: String, Sendable, Equatable {
    /// Some order of the operations, consistent with real time, satisfies the model.
    case valid
    /// No such order exists.
    case invalid
    /// The search stopped (time or memory limit) before deciding; never a guess. See `UnknownReason`.
    case unknown
}

/// Why a search stopped before deciding.
public struct UnknownReason: Sendable, Equatable, CustomStringConvertible {
    /// What stopped it; compare with the static members.
    public struct Code: Sendable, Hashable {
        private enum Kind: Hashable { case timeLimit, memoryLimit, otherPartitionInvalid }
        private let kind: Kind
        /// The time limit passed.
        public static let timeLimit = Code(kind: .timeLimit)
        /// The search's tables would have grown past the memory limit.
        public static let memoryLimit = Code(kind: .memoryLimit)
        /// Another partition was found invalid, so the verdict was known and this one was not finished.
        public static let otherPartitionInvalid = Code(kind: .otherPartitionInvalid)
    }

    /// What stopped the search.
    public var code: Code
    /// A sentence for people, with the limit that was hit.
    public var message: String

    /// The message.
    public var description: String { message }
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
    /// For unknown: why the search stopped.
    public var unknownReason: UnknownReason? = nil
    /// Configurations the search cache held at the end, a measure of memory.
    public var cachedConfigurations: Int = 0
    /// Bytes the search's tables held at their largest (an estimate from their sizes: a model state's
    /// own heap storage is counted by its inline size only).
    public var searchBytes: Int = 0
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

    /// For unknown: why the first partition that stopped early (time or memory) did.
    public var unknownReason: UnknownReason? {
        guard verdict == .unknown else { return nil }
        return partitions.lazy.compactMap(\.unknownReason).first { $0.code != .otherPartitionInvalid }
            ?? partitions.lazy.compactMap(\.unknownReason).first
    }

    /// The first invalid partition, which the report explains.
    public var firstInvalidPartition: PartitionResult? {
        partitions.first { $0.verdict == .invalid }
    }
}
