// The knobs of one node. Every limit is a named constant with its unit last (STYLE.md).

/// How the leader serves linearizable reads without writing to the log.
public enum ReadOnlyMode: Sendable, Hashable {
    /// Confirm leadership with a heartbeat round for every batch of reads (thesis §6.4).
    case readIndex
    /// Serve from the leader's lease while a quorum answered recently enough (thesis §6.4.1);
    /// falls back to a heartbeat round when the lease has expired. Requires `checkQuorum`.
    case leaseBased
}

/// The configuration of one Raft node. Times are counted in ticks; the host decides how long a tick is.
public struct RaftConfig: Sendable {
    /// This node's identity; never ``NodeID/none``.
    public var id: NodeID
    /// The base election timeout. Each election draws its timeout from [T, 2T) with the injected
    /// generator (§5.2), so split votes resolve quickly.
    public var electionTimeoutTicks: Int = 10
    /// How often a leader sends heartbeats; must be well below the election timeout (§5.2).
    public var heartbeatIntervalTicks: Int = 1
    /// Whether a node first asks whether it could win before raising its term (thesis §9.6).
    public var preVote: Bool = true
    /// Whether a leader steps down after an election timeout without hearing from a quorum, and
    /// followers that heard from a leader recently ignore vote requests (thesis §6.2, §9.6).
    public var checkQuorum: Bool = true
    /// How reads are served; see ``ReadOnlyMode``.
    public var readOnlyMode: ReadOnlyMode = .readIndex
    /// The clock-drift allowance subtracted from the election timeout to form the leader lease
    /// (thesis §6.4.1); the lease is `electionTimeoutTicks - 1 - leaseClockDriftBoundTicks` ticks
    /// (one tick for tick granularity). Must leave a lease of at least one tick.
    public var leaseClockDriftBoundTicks: Int = 2
    /// Upper bound on the payload bytes of the entries in one append message (one entry always fits).
    public var messageSizeMaxBytes: Int = 1 << 20
    /// Upper bound on append messages in flight to one follower in the replicate state.
    public var inflightMessagesMax: Int = 256
    /// Upper bound on the payload bytes of proposed-but-not-applied entries at the leader.
    public var uncommittedEntriesMaxBytes: Int = 64 << 20
    /// Upper bound on the entries carried by one append message. Proposals accepted between two
    /// `ready()` calls are batched into one append per follower, cut at this count and at
    /// `messageSizeMaxBytes`.
    public var proposalBatchMaxEntries: Int = 4096
    /// Upper bound on read requests waiting at the leader for a heartbeat round or for the first
    /// commit of its term.
    public var readIndexPendingMax: Int = 4096

    /// A configuration with the defaults above.
    public init(id: NodeID) {
        self.id = id
    }

    /// Checks the relations between the knobs; a violation is a programmer error.
    func validate() {
        precondition(id != .none, "node id 0 is reserved for 'nobody'")
        precondition(electionTimeoutTicks > 0)
        precondition(heartbeatIntervalTicks > 0)
        precondition(heartbeatIntervalTicks < electionTimeoutTicks, "heartbeats must come more often than elections")
        precondition(leaseClockDriftBoundTicks >= 0)
        precondition(leaseClockDriftBoundTicks + 1 < electionTimeoutTicks, "the lease would be empty")
        precondition(readOnlyMode == .readIndex || checkQuorum, "lease reads rely on check-quorum stickiness")
        precondition(messageSizeMaxBytes > 0)
        precondition(inflightMessagesMax > 0)
        precondition(uncommittedEntriesMaxBytes > 0)
        precondition(proposalBatchMaxEntries > 0)
        precondition(readIndexPendingMax > 0)
    }
}
