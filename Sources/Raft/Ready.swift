/// A read that may be served once the host's applied index reaches `index` (thesis §6.4).
public struct ReadState: Sendable, Hashable {
    /// The commit index at the time leadership was confirmed.
    public var index: LogIndex
    /// The context the reader passed to ``RaftNode/readIndex(context:)``.
    public var context: [UInt8]

    /// Creates a read state.
    public init(index: LogIndex, context: [UInt8]) {
        self.index = index
        self.context = context
    }
}

/// Work the host must do, in this order: persist `snapshot`, `entries` and `hardState` durably;
/// then send `messages`; then install `snapshot` and apply `committedEntries` (calling
/// ``RaftNode/applyConfChange(_:)`` for configuration entries); serve `readStates` once applied
/// reaches their index; finally call ``RaftNode/advance(_:)``.
public struct Ready: Sendable {
    /// The new term, vote and commit; nil when unchanged. Persist before sending messages (Figure 2).
    public var hardState: HardState?
    /// Entries to append to the durable log, replacing any suffix that conflicts with them.
    public var entries: [Entry]
    /// A snapshot from the leader: replaces the state machine and the log up to its index.
    public var snapshot: Snapshot?
    /// Messages to send once the above is durable.
    public var messages: [Message]
    /// Committed entries to apply, in order.
    public var committedEntries: [Entry]
    /// Reads that completed.
    public var readStates: [ReadState]

    /// An empty Ready.
    public init(
        hardState: HardState? = nil,
        entries: [Entry] = [],
        snapshot: Snapshot? = nil,
        messages: [Message] = [],
        committedEntries: [Entry] = [],
        readStates: [ReadState] = []
    ) {
        self.hardState = hardState
        self.entries = entries
        self.snapshot = snapshot
        self.messages = messages
        self.committedEntries = committedEntries
        self.readStates = readStates
    }
}
