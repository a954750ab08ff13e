/// The kinds of messages peers exchange (Figure 2, plus pre-vote, read index and transfer).
public enum MessageType: UInt8, Sendable, Hashable {
    /// Leader to follower: entries after (`logTerm`, `index`), and the leader's `commit` (§5.3).
    case appendEntries
    /// Follower to leader: accepted up to `index`, or `reject` with a backtracking hint.
    case appendEntriesResponse
    /// Candidate to voter: vote for me in `term`; my last entry is (`logTerm`, `index`) (§5.2, §5.4.1).
    case requestVote
    /// Voter to candidate: granted unless `reject`.
    case requestVoteResponse
    /// Would you vote for me in `term` (not yet entered)? Changes no state at the receiver (thesis §9.6).
    case preVote
    /// Answer to ``preVote``.
    case preVoteResponse
    /// Leader to follower: I am alive; `commit` is at most the follower's match. `context` carries a
    /// read-index round (thesis §6.4).
    case heartbeat
    /// Follower to leader: heartbeat received; echoes `context` and `leaseTick`.
    case heartbeatResponse
    /// Leader to follower: replace your log with `snapshot` (§7).
    case installSnapshot
    /// Leader to its transfer target: start an election now, ignoring leases (thesis §3.10).
    case timeoutNow
    /// Follower to leader: obtain a read index for `context` (thesis §6.4).
    case readIndex
    /// Leader to follower: the read for `context` may be served once applied >= `index`.
    case readIndexResponse
}

/// One message between two nodes. Fields that a type does not use stay at their zero values.
public struct Message: Sendable, Hashable {
    /// What the message asks or answers.
    public var type: MessageType
    /// The sender.
    public var from: NodeID
    /// The receiver.
    public var to: NodeID
    /// The sender's term (for a granted pre-vote answer: the term the candidate asked about).
    public var term: Term
    /// Appends: term of the entry before `entries`. Votes: term of the candidate's last entry.
    public var logTerm: Term
    /// Appends: index of the entry before `entries`. Votes: the candidate's last index.
    /// Append answers: the last index the follower accepted (or the rejected `index`).
    public var index: LogIndex
    /// Entries to append, contiguous and starting at `index + 1`.
    public var entries: [Entry]
    /// The leader's commit index.
    public var commit: LogIndex
    /// Whether a vote or an append is refused.
    public var reject: Bool
    /// On a refused append: the follower's guess of the last index that may match (fast backtracking).
    public var rejectHint: LogIndex
    /// On a refused append: the term of the entry at `rejectHint` in the follower's log.
    public var rejectHintTerm: Term
    /// The snapshot of an ``MessageType/installSnapshot``.
    public var snapshot: Snapshot?
    /// Opaque bytes: a read request's context, a read round's identity, or a transfer marker.
    public var context: [UInt8]
    /// The leader's logical tick when it sent a heartbeat, echoed in the answer, so a lease is timed
    /// from the moment the leader sent, not from when it heard back (thesis §6.4.1). 0 means "none".
    public var leaseTick: UInt64

    /// Creates a message; unused fields default to zero.
    public init(
        type: MessageType,
        from: NodeID,
        to: NodeID,
        term: Term = .zero,
        logTerm: Term = .zero,
        index: LogIndex = .zero,
        entries: [Entry] = [],
        commit: LogIndex = .zero,
        reject: Bool = false,
        rejectHint: LogIndex = .zero,
        rejectHintTerm: Term = .zero,
        snapshot: Snapshot? = nil,
        context: [UInt8] = [],
        leaseTick: UInt64 = 0
    ) {
        self.type = type
        self.from = from
        self.to = to
        self.term = term
        self.logTerm = logTerm
        self.index = index
        self.entries = entries
        self.commit = commit
        self.reject = reject
        self.rejectHint = rejectHint
        self.rejectHintTerm = rejectHintTerm
        self.snapshot = snapshot
        self.context = context
        self.leaseTick = leaseTick
    }
}
