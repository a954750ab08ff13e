/// The role a node plays in its current term (§5.1, thesis §9.6).
public enum RaftRole: Sendable, Hashable {
    /// Follows a leader, or waits for one.
    case follower
    /// Asks whether it could win an election before raising its term (thesis §9.6).
    case preCandidate
    /// Has raised its term and asks for votes (§5.2).
    case candidate
    /// Accepts proposals and replicates the log.
    case leader
}

/// A snapshot of a node's state for hosts, tests and the simulator's checks.
public struct RaftStatus: Sendable, Hashable {
    /// This node.
    public var id: NodeID
    /// Its role.
    public var role: RaftRole
    /// Its current term.
    public var term: Term
    /// Whom it voted for in `term`.
    public var vote: NodeID
    /// The leader it knows of, or ``NodeID/none``.
    public var leader: NodeID
    /// Its commit index.
    public var commit: LogIndex
    /// The highest index the host reported applied (through ``RaftNode/advance(_:)``).
    public var applied: LogIndex
    /// Its last log index.
    public var lastIndex: LogIndex
    /// Its membership configuration (as applied).
    public var confState: ConfState
    /// The transfer target while a leadership transfer is in progress, else ``NodeID/none``.
    public var leadTransferee: NodeID
}

/// A read-only view of a node's in-memory log (a copy; it does not change when the node does).
public struct RaftLogView: Sendable {
    /// The snapshot the log starts after.
    public let snapshot: SnapshotMetadata
    /// The commit index.
    public let committed: LogIndex
    /// Invariant: entries[entries.startIndex + i].index == snapshot.index + 1 + i.
    private let held: ArraySlice<Entry>

    init(snapshot: SnapshotMetadata, committed: LogIndex, entries: ArraySlice<Entry>) {
        self.snapshot = snapshot
        self.committed = committed
        self.held = entries
        precondition(held.first.map { $0.index == snapshot.index.advanced(by: 1) } ?? true)
    }

    /// The first index still held (the one after the snapshot).
    public var firstIndex: LogIndex { snapshot.index.advanced(by: 1) }
    /// The last index.
    public var lastIndex: LogIndex { snapshot.index.advanced(by: Int64(held.count)) }

    /// The term of the entry at `index`, or nil when it was compacted away (below the snapshot) or
    /// does not exist yet. The snapshot's own index answers the snapshot's term.
    public func term(at index: LogIndex) -> Term? {
        if index == snapshot.index { return snapshot.term }
        if index < snapshot.index || index > lastIndex { return nil }
        return held[position(index)].term
    }

    /// Entries in the half-open range [from, to), clamped to what the log holds.
    public func entries(from: LogIndex, to: LogIndex) -> [Entry] {
        let lo = max(from, firstIndex)
        let hi = min(to, lastIndex.advanced(by: 1))
        if lo >= hi { return [] }
        return Array(held[position(lo)..<position(hi)])
    }

    private func position(_ index: LogIndex) -> Int {
        held.startIndex + Int(index.rawValue - snapshot.index.rawValue - 1)
    }
}

/// What a leader knows of one member's replication (thesis §3.5), for a host's guard rails on
/// membership changes: whether a learner caught up, whether removing a voter leaves a quorum of
/// members that answer.
public struct ReplicationStatus: Sendable, Hashable {
    /// The highest index known to be on the member.
    public var match: LogIndex
    /// Whether the member answered since the last check-quorum round (thesis §6.2); a member just
    /// added counts as active until its first round.
    public var recentlyActive: Bool
    /// Whether it is a learner.
    public var isLearner: Bool

    /// A member's replication as a leader sees it.
    public init(match: LogIndex, recentlyActive: Bool, isLearner: Bool) {
        self.match = match
        self.recentlyActive = recentlyActive
        self.isLearner = isLearner
    }
}
