/// One change to one key, as a watch reports it (etcd's `mvccpb.Event`).
public struct KVEvent: Hashable, Sendable {
    /// Whether the key was written or deleted.
    public enum Kind: UInt8, Sendable {
        /// The key was created or overwritten.
        case put = 0
        /// The key was deleted (by a DeleteRange, a Txn or its lease's end).
        case delete = 1
    }

    /// Put or delete.
    public var kind: Kind
    /// After a put, the key as written. After a delete, only the key and the delete's revision
    /// (`modRevision`), every other field zero, as etcd reports a deletion.
    public var kv: KeyValue
    /// The key as it was before this change; nil when it did not exist.
    public var prevKv: KeyValue?

    /// An event with these fields.
    public init(kind: Kind, kv: KeyValue, prevKv: KeyValue?) {
        self.kind = kind
        self.kv = kv
        self.prevKv = prevKv
    }

    /// The revision of the write transaction that made the change.
    public var revision: Int64 { kv.modRevision }

    /// A deletion of `key` at `revision`, in etcd's shape.
    static func delete(_ key: [UInt8], revision: Int64, previous: KeyValue?) -> KVEvent {
        KVEvent(
            kind: .delete, kv: KeyValue(key: key, createRevision: 0, modRevision: revision, version: 0, value: [], lease: 0),
            prevKv: previous)
    }
}

/// A stretch of history read back for a watcher that is behind: every event in
/// `[from, throughRevision]` on the watched keys, in revision order.
public struct KVHistory: Hashable, Sendable {
    /// The events, in revision order (sub-revision order within one revision).
    public var events: [KVEvent]
    /// The last revision whose events are all in `events`; the next read starts after it.
    public var throughRevision: Int64

    /// A history with these fields.
    public init(events: [KVEvent], throughRevision: Int64) {
        self.events = events
        self.throughRevision = throughRevision
    }
}

/// Told, on the thread that applies, of every change to the store, right after it is written:
/// the watch machinery's feed. Called in apply order, never concurrently.
public protocol KVChangeObserver: AnyObject {
    /// A command that changed the store committed: its events (empty for a compaction or a lease
    /// change without keys), the store's revision and compacted revision afterwards.
    func applied(_ events: [KVEvent], revision: Int64, compactedRevision: Int64)
    /// The whole state was replaced (a leader's snapshot was installed): changes between the old
    /// and new revision were not reported one by one.
    func stateReplaced(revision: Int64, compactedRevision: Int64)
}
