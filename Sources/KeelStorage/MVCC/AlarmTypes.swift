/// etcd's alarm kinds (`etcdserverpb.AlarmType`), with etcd's numbers so they pass through unchanged.
public enum AlarmKind: UInt8, Hashable, Sendable, CaseIterable {
    /// No alarm: in a request, "every kind".
    case none = 0
    /// The store went over its quota: writes that grow it are refused until it is disarmed.
    case noSpace = 1
    /// A member found its state corrupt (recorded, not raised by Keel itself).
    case corrupt = 2
}

/// One raised alarm: which member raised it and what kind.
public struct AlarmMember: Hashable, Sendable {
    /// The member that raised it.
    public var memberID: UInt64
    /// What it is.
    public var kind: AlarmKind

    /// Creates an alarm entry.
    public init(memberID: UInt64, kind: AlarmKind) {
        self.memberID = memberID
        self.kind = kind
    }
}

/// etcd's AlarmRequest: a read of the alarms, or a change, applied through the log so that every
/// member holds the same alarms (and refuses the same writes) at the same index.
public struct AlarmRequest: Hashable, Sendable {
    /// etcd's `AlarmRequest.AlarmAction`, with etcd's numbers.
    public enum Action: UInt8, Hashable, Sendable {
        /// List the alarms of `kind` (every kind for `.none`).
        case get = 0
        /// Raise `kind` for `memberID`.
        case activate = 1
        /// Clear `kind` for `memberID`.
        case deactivate = 2
    }

    /// What to do.
    public var action: Action
    /// The member concerned (activate, deactivate).
    public var memberID: UInt64
    /// The alarm kind.
    public var kind: AlarmKind

    /// Creates a request.
    public init(action: Action, memberID: UInt64, kind: AlarmKind) {
        self.action = action
        self.memberID = memberID
        self.kind = kind
    }
}

/// etcd's HashKV answer: a CRC-32C over every stored version at or below `revision`.
public struct KVHash: Hashable, Sendable {
    /// The hash.
    public var hash: UInt32
    /// The revision hashed through.
    public var hashedRevision: Int64
    /// The store's compacted revision when hashed (0 when never compacted).
    public var compactRevision: Int64
    /// The store's current revision.
    public var revision: Int64
}
