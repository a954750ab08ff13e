/// A property of the node layer the simulation found broken.
public struct NodeViolation: Error, Sendable, Hashable, CustomStringConvertible {
    /// Which property.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// A message that promises something about the sender's disk left before that was synced
        /// (a vote grant before the vote, an append answer before the entries, any message before
        /// its term).
        public static let sentBeforeSynced = Code("sent before synced")
        /// A client was told a write succeeded before a quorum had it on disk.
        public static let ackBeforeDurable = Code("acknowledged before durable")
        /// An acknowledged write is missing from a replica's final state.
        public static let lostWrite = Code("lost write")
        /// A write whose client was told it failed (with an error that does not say "unknown
        /// outcome") was applied: a client that retries it would apply it twice.
        public static let appliedAfterFailure = Code("applied after a definite failure")
        /// A linearizable read returned a state older than a write acknowledged before it began.
        public static let staleRead = Code("stale read")
        /// Two replicas hold different states after applying the same index.
        public static let divergence = Code("replica divergence")
        /// After healing, no leader emerged, a write did not complete, or replicas did not converge.
        public static let liveness = Code("liveness")

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
