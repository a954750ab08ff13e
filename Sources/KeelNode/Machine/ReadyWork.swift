import KeelStorage
import Raft

/// One Ready's storage work, as values the storage thread can take: persist, apply, serve reads,
/// maybe open an image and compact the log. Built by ``NodeMachine/startReady()``, run by the
/// driver on a ``NodeStore``, its ``ReadyOutcome`` handed back to ``NodeMachine/finishReady(_:into:)``.
public struct ReadyWork: Sendable {
    /// A committed entry, with the configuration the core settled on for a configuration entry.
    public struct Committed: Sendable {
        /// The entry.
        public var entry: Entry
        /// For a configuration entry: the configuration after it (decided on the core's owner).
        public var confState: ConfState?
        /// For a configuration entry the core accepted: what it changes in the member registry.
        public var membership: MembershipChange?
    }

    /// A linearizable read whose read index is known.
    public struct Read: Sendable {
        /// The read's request id.
        public var id: UInt64
        /// A Range or a read-only Txn.
        public var request: KVCommand
        /// Served once the state machine applied this far (thesis §6.4 step 4).
        public var index: LogIndex
    }

    /// The node whose own proposals' results are collected.
    public var node: NodeID
    /// A leader's snapshot to install first.
    public var snapshot: Snapshot?
    /// Entries to append (synced) with `hardState`.
    public var entries: [Entry]
    /// The hard state to persist, if it changed.
    public var hardState: HardState?
    /// Entries to apply, in order.
    public var committed: [Committed]
    /// Reads to serve once applied far enough.
    public var reads: [Read]
    /// An image is opened once this many entries were applied past the log's snapshot.
    public var snapshotEntries: UInt64
    /// The log is compacted to the pending image once this many more entries were applied.
    public var snapshotCatchUpEntries: UInt64
    /// The image taken earlier whose log compaction waits for `snapshotCatchUpEntries` more
    /// applied entries; no new image is taken meanwhile.
    public var pendingImage: SnapshotMetadata?
    /// An image is being read elsewhere; no new one is opened meanwhile.
    public var imageBuilding: Bool

    /// Whether this work writes the log (and so syncs).
    public var writesLog: Bool { !entries.isEmpty || hardState != nil }
}

/// What the storage thread did with a ``ReadyWork``.
public struct ReadyOutcome: Sendable {
    /// Results of this node's own proposals, by request id.
    public var results: [(requestID: UInt64, result: Result<KVResponse, StorageError>)] = []
    /// Normal entries with a command that were applied (for metrics).
    public var appliedCommands = 0
    /// Reads served (the others wait for a later Ready).
    public var reads: [(id: UInt64, result: Result<KVResponse, StorageError>)] = []
    /// The state machine's applied index afterwards.
    public var appliedIndex: LogIndex = .zero
    /// The store's revision afterwards.
    public var revision: Int64 = KVStateMachine.initialRevision
    /// The compacted revision afterwards.
    public var compactedRevision: Int64 = 0
    /// Whether a synced log write happened, and how long it took.
    public var synced = false
    /// Time spent persisting (zero unless timed).
    public var syncNanoseconds: Int64 = 0
    /// Time spent applying (zero unless timed).
    public var applyNanoseconds: Int64 = 0
    /// A view of the state machine opened after applying, for an image read off this thread.
    public var imageSource: ImageSource?
    /// The stored log was compacted through this snapshot: the core should compact to it too.
    public var compacted: SnapshotMetadata?
    /// What the applied entries did to leases, in log order.
    public var leaseEvents: [LeaseEvent] = []
    /// Every lease, after a leader's snapshot replaced the state machine.
    public var leasesReloaded: [LeaseRecord]?
    /// The members, when a configuration entry or a leader's snapshot changed them.
    public var members: MemberRegistry?
    /// This node's membership changes that applied, by request id.
    public var membershipResults: [UInt64] = []
    /// A change that removed this node applied. Only that says so: a leader's snapshot taken before
    /// this node was added lists members without it, yet it is a member (the entry adding it follows).
    public var removedSelf = false
}

/// A change to the set of leases, from an applied entry.
public enum LeaseEvent: Sendable, Hashable {
    /// A lease was granted.
    case granted(id: Int64, ttlSeconds: Int64)
    /// A lease was revoked (or expired).
    case revoked(id: Int64)
    /// Leases' remaining times were recorded.
    case checkpointed([LeaseCheckpoint])
}

extension ReadyWork {
    /// Persist (snapshot, then entries and hard state, synced), apply, serve reads, maybe snapshot.
    /// A thrown error is a storage failure: the node halts. `beforeAppend` runs before entries are
    /// written (a test's slow disk); `nanoseconds`, a monotonic clock, times the two halves.
    public func run(
        on store: some NodeStore, beforeAppend: (() -> Void)? = nil, nanoseconds: (() -> Int64)? = nil
    ) throws -> ReadyOutcome {
        var outcome = ReadyOutcome()
        let persistStart = nanoseconds?() ?? 0
        if let snapshot {
            try Self.install(snapshot, on: store)
            outcome.leasesReloaded = try store.leases()
            outcome.members = try store.members().flatMap(MemberRegistry.init(decoding:))
        }
        if !entries.isEmpty { beforeAppend?() }
        if writesLog { try store.appendLog(entries, hardState: hardState) }
        outcome.synced = writesLog
        let applyStart = nanoseconds?() ?? 0
        try apply(on: store, into: &outcome)
        if let nanoseconds {
            outcome.syncNanoseconds = applyStart - persistStart
            outcome.applyNanoseconds = nanoseconds() - applyStart
        }
        return outcome
    }

    /// Applies the committed entries, serves the reads that can be, opens an image or compacts.
    func apply(on store: some NodeStore, into outcome: inout ReadyOutcome) throws {
        for item in committed {
            let entry = item.entry
            if entry.kind == .confChange {
                guard let confState = item.confState, entry.index > store.appliedIndex else { continue }
                var members: MemberRegistry?
                if let change = item.membership {
                    // The members as applied so far (a snapshot installed above included).
                    let current = try store.members().flatMap(MemberRegistry.init(decoding:)) ?? outcome.members ?? MemberRegistry([])
                    members = current.applying(change)
                    outcome.members = members
                    if change.origin == node { outcome.membershipResults.append(change.requestID) }
                    if change.action == .remove && change.member == node { outcome.removedSelf = true }
                }
                try store.applyConfChange(index: entry.index, term: entry.term, confState: confState, members: members?.encoded())
                continue
            }
            let envelope = EntryEnvelope(decoding: entry.data)
            if envelope == nil && !entry.data.isEmpty && entry.index > store.appliedIndex {
                // Written by a newer (or broken) node: applying the bytes as a bare command would make
                // this replica diverge from the ones that understand them. Halt until upgraded.
                throw StorageError(
                    .unsupportedVersion,
                    "entry \(entry.index) has an envelope of version \(entry.data[0]) (\(entry.data.count) bytes); this node reads version \(EntryEnvelope.version)")
            }
            // Entries at or below the applied index are skipped (apply returns nil): a snapshot
            // installed after this Ready was taken already contains them (core note R1).
            guard let result = try store.apply(index: entry.index, term: entry.term, entryData: envelope?.command ?? []) else {
                continue
            }
            if envelope != nil { outcome.appliedCommands += 1 }
            switch result {
            case .success(.leaseGrant(let id, let ttl)): outcome.leaseEvents.append(.granted(id: id, ttlSeconds: ttl))
            case .success(.leaseRevoke(let id, _)): outcome.leaseEvents.append(.revoked(id: id))
            case .success(.leaseCheckpoint(let applied)) where !applied.isEmpty: outcome.leaseEvents.append(.checkpointed(applied))
            default: break
            }
            if let envelope, envelope.origin == node { outcome.results.append((envelope.requestID, result)) }
        }
        for read in reads where read.index <= store.appliedIndex {
            outcome.reads.append((read.id, Result { () throws(StorageError) -> KVResponse in try Self.read(read.request, store) }))
        }
        outcome.appliedIndex = store.appliedIndex
        outcome.revision = store.revision
        outcome.compactedRevision = store.compactedRevision
        let snapshotIndex = store.logSnapshot.index
        if pendingImage == nil && !imageBuilding {
            let sinceSnapshot = store.appliedIndex.rawValue - min(store.appliedIndex.rawValue, snapshotIndex.rawValue)
            if sinceSnapshot >= snapshotEntries, store.appliedTerm != .zero {
                // Only a point-in-time view is opened here; the image is read elsewhere (N4).
                outcome.imageSource = store.openImage()
            }
        }
        // Compact only through an image at least `snapshotCatchUpEntries` behind the applied index:
        // the entries after it stay for followers a little behind.
        if let pending = pendingImage, store.appliedIndex.rawValue >= pending.index.rawValue &+ snapshotCatchUpEntries,
            pending.index > snapshotIndex
        {
            try store.compactLog(through: pending)
            outcome.compacted = pending
        }
    }

    private static func install(_ snapshot: Snapshot, on store: some NodeStore) throws {
        let metadata = snapshot.metadata
        guard snapshot.data.isEmpty else {
            try store.installSnapshot(snapshot)
            return
        }
        // Only the founding snapshot may be empty; an empty image anywhere else would silently
        // drop data, so the node halts instead.
        guard metadata.index == LogIndex(1) else {
            throw StorageError(.snapshotInvalid, "snapshot at index \(metadata.index) carries no state-machine image")
        }
        try store.installFoundingSnapshot(metadata)
    }

    private static func read(_ request: KVCommand, _ store: some NodeStore) throws(StorageError) -> KVResponse {
        do { return try store.read(request) } catch let error as StorageError { throw error } catch {
            throw StorageError(.io, "\(error)")
        }
    }
}
