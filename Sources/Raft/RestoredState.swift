/// What the host restores on start from its durable storage (empty for a brand-new node).
public struct RestoredState: Sendable {
    /// The persisted term, vote and commit.
    public var hardState: HardState
    /// The last snapshot the host holds; the log starts right after it.
    public var snapshot: SnapshotMetadata?
    /// The state-machine image of `snapshot`, so this node can send it to lagging followers once it
    /// leads. Empty if the host does not keep it (the next ``RaftNode/compact(upTo:snapshotData:)`` sets one).
    public var snapshotData: [UInt8]
    /// Durable entries after the snapshot, contiguous.
    public var entries: [Entry]
    /// Membership as of the newest applied configuration.
    public var confState: ConfState
    /// Highest index the host has applied to its state machine.
    public var applied: LogIndex

    /// Creates restored state.
    public init(
        hardState: HardState,
        snapshot: SnapshotMetadata?,
        entries: [Entry],
        confState: ConfState,
        applied: LogIndex,
        snapshotData: [UInt8] = []
    ) {
        self.hardState = hardState
        self.snapshot = snapshot
        self.snapshotData = snapshotData
        self.entries = entries
        self.confState = confState
        self.applied = applied
    }

    /// A founding member of a brand-new cluster. The initial membership is a snapshot at index 1,
    /// term 1, with an empty state machine: every founding member starts from the same state, and a
    /// node added later receives that membership through a snapshot rather than through entries
    /// it could not interpret without it.
    public static func bootstrap(voters: [NodeID]) -> RestoredState {
        precondition(!voters.isEmpty, "a cluster needs at least one voter")
        precondition(!voters.contains(.none))
        let confState = ConfState(voters: Set(voters))
        let snapshot = SnapshotMetadata(index: LogIndex(1), term: Term(1), confState: confState)
        return RestoredState(
            hardState: HardState(term: Term(1), vote: .none, commit: LogIndex(1)),
            snapshot: snapshot,
            entries: [],
            confState: confState,
            applied: LogIndex(1)
        )
    }

    /// A node that will join an existing cluster: empty log, no membership. It waits until a leader
    /// that added it sends a snapshot.
    public static var joining: RestoredState {
        RestoredState(hardState: .initial, snapshot: nil, entries: [], confState: ConfState(), applied: .zero)
    }
}
