import RaftSimulation

// The properties the node simulation checks beyond the core simulator's (`persistBeforeSend`,
// `staleRead`, `leaseOverlap`, `liveness` are shared), as codes of the simulators' common Violation.

extension Violation.Code {
    /// A client was told a write succeeded before a quorum had it on disk.
    public static let ackBeforeDurable = Violation.Code("acknowledged before durable")
    /// An acknowledged write is missing from a replica's final state.
    public static let lostWrite = Violation.Code("lost write")
    /// A write whose client was told it failed (with an error that does not say "unknown
    /// outcome") was applied: a client that retries it would apply it twice.
    public static let appliedAfterFailure = Violation.Code("applied after a definite failure")
    /// The store refused a write (below its snapshot, leaving a hole, replacing committed entries):
    /// RocksDB would refuse it too, halting the node on a log the node itself tried to damage.
    public static let storageRefused = Violation.Code("storage refused a write")
    /// A request was answered with a response of another kind.
    public static let wrongResponse = Violation.Code("wrong response")
    /// Two replicas hold different states after applying the same index.
    public static let divergence = Violation.Code("replica divergence")
    /// A TTL lease expired before the time a grant or keepalive acknowledged to its client promised.
    public static let leaseExpiredEarly = Violation.Code("lease expired early")
    /// A keepalive sent after a lease expired renewed it (its keys were already gone).
    public static let leaseRenewedAfterExpiry = Violation.Code("lease renewed after expiry")
}
