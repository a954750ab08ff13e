// The nouns of Raft, shared by the core and by everything that persists or transports them
// (KeelStorage, the peer transport). Wrapper types keep an index, a term and a node id from being
// swapped by accident (STYLE.md, "Do this, not that" 5).

/// A node's identity within a cluster. Zero is never a valid node id: it means "nobody".
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The raw identifier.
    public var rawValue: UInt64

    /// Wraps a raw identifier.
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    /// "No node": the vote of a node that has not voted in its current term, or an unknown leader.
    public static let none = NodeID(0)

    /// Orders node ids by their raw value, so configurations print in a stable order.
    public static func < (lhs: NodeID, rhs: NodeID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The raw value in decimal.
    public var description: String { String(rawValue) }
}

/// A Raft term (§5.1): a logical clock that increases monotonically; zero before any election.
public struct Term: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The raw term number.
    public var rawValue: UInt64

    /// Wraps a raw term number.
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    /// The term every node starts in.
    public static let zero = Term(0)

    /// The term that follows this one.
    public var next: Term { Term(rawValue + 1) }

    /// Orders terms numerically.
    public static func < (lhs: Term, rhs: Term) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The raw value in decimal.
    public var description: String { String(rawValue) }
}

/// A position in the replicated log, starting at 1; zero means "before the first entry".
public struct LogIndex: Hashable, Comparable, Strideable, Sendable, CustomStringConvertible {
    /// The raw index.
    public var rawValue: UInt64

    /// Wraps a raw index.
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    /// The index before the first entry of any log.
    public static let zero = LogIndex(0)

    /// Orders indexes numerically.
    public static func < (lhs: LogIndex, rhs: LogIndex) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The signed distance to another index, so ranges of indexes can be iterated.
    public func distance(to other: LogIndex) -> Int64 { Int64(bitPattern: other.rawValue &- rawValue) }

    /// The index `n` entries away.
    public func advanced(by n: Int64) -> LogIndex { LogIndex(UInt64(bitPattern: Int64(bitPattern: rawValue) &+ n)) }

    /// The raw value in decimal.
    public var description: String { String(rawValue) }
}

/// What an entry carries: application data or a change of the membership configuration.
public enum EntryKind: UInt8, Sendable, Hashable {
    /// Opaque application data, applied to the state machine. An empty normal entry is the leader's
    /// no-op appended on election (§5.4.2, Figure 8; thesis §6.4).
    case normal = 0
    /// A membership change (thesis §4.3); `data` holds an encoded ``ConfChange``.
    case confChange = 1
}

/// One entry of the replicated log (Figure 2).
public struct Entry: Hashable, Sendable {
    /// The term of the leader that created the entry.
    public var term: Term
    /// The entry's position in the log.
    public var index: LogIndex
    /// What the entry carries.
    public var kind: EntryKind
    /// The payload: application bytes, or an encoded configuration change.
    public var data: [UInt8]

    /// Creates an entry.
    public init(term: Term, index: LogIndex, kind: EntryKind = .normal, data: [UInt8] = []) {
        self.term = term
        self.index = index
        self.kind = kind
        self.data = data
    }
}

/// The state a node must persist before it answers any message (Figure 2, "Persistent state").
/// `commit` is persisted too, as etcd does, so a restarted node need not wait for a leader to re-apply.
public struct HardState: Hashable, Sendable {
    /// The latest term this node has seen.
    public var term: Term
    /// The candidate this node voted for in `term`, or ``NodeID/none``.
    public var vote: NodeID
    /// The highest index known to be committed.
    public var commit: LogIndex

    /// Creates a hard state.
    public init(term: Term = .zero, vote: NodeID = .none, commit: LogIndex = .zero) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }

    /// The hard state of a node that has never run.
    public static let initial = HardState()
}

/// A membership configuration as it is persisted and carried in snapshots (thesis §4.3).
/// Outside a joint configuration `votersOutgoing` is empty.
public struct ConfState: Hashable, Sendable {
    /// The voters of the incoming (or only) configuration.
    public var voters: Set<NodeID>
    /// Non-voting members that receive the log (thesis §4.2.1).
    public var learners: Set<NodeID>
    /// The voters of the outgoing configuration while in joint consensus; empty otherwise.
    public var votersOutgoing: Set<NodeID>
    /// Voters of the outgoing configuration that become learners when the joint configuration is left.
    public var learnersNext: Set<NodeID>
    /// Whether the leader leaves the joint configuration by itself once it is committed.
    public var autoLeave: Bool

    /// Creates a configuration.
    public init(
        voters: Set<NodeID> = [],
        learners: Set<NodeID> = [],
        votersOutgoing: Set<NodeID> = [],
        learnersNext: Set<NodeID> = [],
        autoLeave: Bool = false
    ) {
        self.voters = voters
        self.learners = learners
        self.votersOutgoing = votersOutgoing
        self.learnersNext = learnersNext
        self.autoLeave = autoLeave
    }

    /// Whether this is a joint configuration (thesis §4.3).
    public var isJoint: Bool { !votersOutgoing.isEmpty }
}

/// Describes a snapshot: the last entry it covers and the configuration at that entry (§7).
public struct SnapshotMetadata: Hashable, Sendable {
    /// The index of the last entry the snapshot replaces.
    public var index: LogIndex
    /// The term of that entry.
    public var term: Term
    /// The membership configuration as of `index`.
    public var confState: ConfState

    /// Creates snapshot metadata.
    public init(index: LogIndex, term: Term, confState: ConfState) {
        self.index = index
        self.term = term
        self.confState = confState
    }
}

/// A snapshot as the core hands it to the host or receives it from a leader: metadata plus the
/// opaque state-machine image (the host decides what the bytes are and how to stream them).
public struct Snapshot: Hashable, Sendable {
    /// What the snapshot covers.
    public var metadata: SnapshotMetadata
    /// The state-machine image.
    public var data: [UInt8]

    /// Creates a snapshot.
    public init(metadata: SnapshotMetadata, data: [UInt8] = []) {
        self.metadata = metadata
        self.data = data
    }
}
