// A broken safety or liveness property, named so a failure report says which claim broke.

/// A property the simulator found broken.
public struct Violation: Error, Sendable, Hashable, CustomStringConvertible {
    /// Which property (Figure 3 of the Raft paper, plus the simulator's own).
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        /// A property named `name`; simulators built on this one (the node simulation) add their own.
        public init(_ name: String) { self.name = name }

        /// Figure 3: at most one leader can be elected in a given term.
        public static let electionSafety = Code("election safety")
        /// Figure 3: a leader never overwrites or deletes entries in its log.
        public static let leaderAppendOnly = Code("leader append-only")
        /// Figure 3: same index and term means the same entry and the same log before it.
        public static let logMatching = Code("log matching")
        /// Figure 3: a committed entry is in the log of every leader of a later term.
        public static let leaderCompleteness = Code("leader completeness")
        /// Figure 3: no two nodes apply different entries at one index.
        public static let stateMachineSafety = Code("state machine safety")
        /// A node's commit index never goes back while it runs.
        public static let monotonicCommit = Code("monotonic commit")
        /// A node's applied index never goes back while it runs.
        public static let monotonicApplied = Code("monotonic applied")
        /// A read returns a state at least as new as every write acknowledged before it began.
        public static let staleRead = Code("stale read")
        /// Thesis §6.4.1: a leader confirms a read from its lease only while no other node can have
        /// been elected; a read confirmed so while a newer term's leader exists breaks the lease.
        public static let leaseOverlap = Code("lease read while another leader exists")
        /// After healing, a leader emerges and a new write reaches every live voter in time; a
        /// follower rejoining a healthy leader does not depose it (thesis §9.6).
        public static let liveness = Code("liveness")
        /// Figure 2: a node answers only once what the answer depends on is durable (a vote grant
        /// after the vote, an append answer after the entries, any term after that term).
        public static let persistBeforeSend = Code("persist before send")
        /// §5.3: an entry is committed only once a quorum of the leader's configuration (both
        /// halves of a joint one, thesis §4.3) holds it durably, the leader's own copy included.
        public static let commitDurability = Code("commit durability")

        /// The property's name.
        public var description: String { name }
    }

    /// Which property broke.
    public var code: Code
    /// What was seen.
    public var message: String

    /// A violation of `code`, described by `message`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// "property: details".
    public var description: String { "\(code): \(message)" }
}
