/// Why the core refused a request. Requests are never dropped silently: a refusal throws this.
public struct RaftError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of refusal. A struct of static values, so codes can be added without breaking callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// This node is not the leader; ``RaftError/leader`` names the leader it knows of.
        public static let notLeader = Code("notLeader")
        /// No leader is known (an election is in progress or this node is partitioned).
        public static let noLeader = Code("noLeader")
        /// A leadership transfer is in progress; proposals resume when it completes or aborts (thesis §3.10).
        public static let transferInProgress = Code("transferInProgress")
        /// The leader holds `uncommittedEntriesMaxBytes` of unapplied proposals already.
        public static let uncommittedLimitExceeded = Code("uncommittedLimitExceeded")
        /// A configuration change is proposed but not yet applied; one at a time (thesis §4.1).
        public static let confChangeInProgress = Code("confChangeInProgress")
        /// The named node is not a member that can take part (for example a transfer to a learner).
        public static let unknownNode = Code("unknownNode")
        /// The configuration change is not valid against the current configuration.
        public static let invalidConfChange = Code("invalidConfChange")
        /// Bytes could not be decoded.
        public static let malformed = Code("malformed")
        /// Too many reads are already waiting at this leader.
        public static let readIndexLimitExceeded = Code("readIndexLimitExceeded")
        /// This leader was removed from the configuration and no longer accepts proposals.
        public static let notMember = Code("notMember")

        /// The code's name.
        public var description: String { name }
    }

    /// The kind of refusal.
    public var code: Code
    /// A human-readable explanation.
    public var message: String
    /// The leader this node knows of (``NodeID/none`` if unknown), so a client can redirect.
    public var leader: NodeID

    /// Creates an error.
    public init(_ code: Code, _ message: String, leader: NodeID = .none) {
        self.code = code
        self.message = message
        self.leader = leader
    }

    /// "code: message".
    public var description: String { "\(code): \(message)" }
}
