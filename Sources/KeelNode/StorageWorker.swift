import Dispatch
import KeelStorage
import Raft

/// The one thread that touches the node's storage: it persists, applies and serves reads, in
/// submission order, OFF the node's actor. While it fsyncs one Ready the actor keeps stepping
/// messages and accepting proposals into the Raft core, so the next Ready carries all of them in
/// one append and one fsync (group commit; thesis §10.2.1 "batching and pipelining").
///
/// `@unchecked Sendable`: `storage` is read and written only by blocks running on `queue`, a
/// serial queue, so no two threads ever touch it at once.
final class StorageWorker: @unchecked Sendable {
    private let queue = DispatchQueue(label: "keel.node.storage")
    private var storage: NodeStorage?

    init(storage: NodeStorage) { self.storage = storage }

    /// Runs `body` on the storage thread and returns its result.
    func perform<T: Sendable>(_ body: @escaping @Sendable (NodeStorage) throws -> T) async -> Result<T, any Error> {
        await withCheckedContinuation { continuation in
            queue.async {
                guard let storage = self.storage else {
                    continuation.resume(returning: .failure(KeelError.stopped))
                    return
                }
                continuation.resume(returning: Result { try body(storage) })
            }
        }
    }

    /// Closes the database once every queued block has run.
    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.storage = nil
                continuation.resume()
            }
        }
    }
}

/// One Ready's storage work, as values the storage thread can take.
struct ReadyWork: Sendable {
    /// A committed entry, with the configuration the core settled on for a configuration entry.
    struct Committed: Sendable {
        var entry: Entry
        var confState: ConfState?
    }

    /// A linearizable read whose read index is known.
    struct Read: Sendable {
        var id: UInt64
        /// A Range or a read-only Txn.
        var request: KVCommand
        var index: LogIndex
    }

    var node: NodeID
    var snapshot: Snapshot?
    var entries: [Entry]
    var hardState: HardState?
    var committed: [Committed]
    var reads: [Read]
    var snapshotEntries: UInt64
    var snapshotCatchUpEntries: UInt64
    /// The image taken earlier whose log compaction waits for `snapshotCatchUpEntries` more
    /// applied entries; no new image is taken meanwhile.
    var pendingImage: SnapshotMetadata?
    /// An image is being read off this thread; no new one is opened meanwhile.
    var imageBuilding: Bool
    /// Test hook (see ``ImageSource/beforeRead``).
    var beforeImageRead: (@Sendable () -> Void)?
    /// Test hook: runs on the storage thread before entries are written (a slow disk).
    var beforeAppend: (@Sendable () -> Void)?
}

/// A state-machine image and the log position it is the state of.
struct SnapshotImage: Sendable {
    var metadata: SnapshotMetadata
    var data: [UInt8]
}

/// What the storage thread did with a ``ReadyWork``.
struct ReadyOutcome: Sendable {
    /// Results of this node's own proposals, by request id.
    var results: [(requestID: UInt64, result: Result<KVResponse, StorageError>)] = []
    /// Normal entries with a command that were applied (for metrics).
    var appliedCommands = 0
    /// Reads served (the others wait for a later Ready).
    var reads: [(id: UInt64, result: Result<KVResponse, StorageError>)] = []
    var appliedIndex: LogIndex = .zero
    var revision: Int64 = KVStateMachine.initialRevision
    var compactedRevision: Int64 = 0
    /// Whether a synced log write happened, and how long it took.
    var synced = false
    var syncNanoseconds: Int64 = 0
    var applyNanoseconds: Int64 = 0
    /// A view of the state machine opened after applying, for an image read off this thread.
    var imageSource: ImageSource?
    /// The stored log was compacted through this snapshot: the core should compact to it too.
    var compacted: SnapshotMetadata?
}

extension ReadyWork {
    /// Persist (snapshot, then entries and hard state, synced), apply, serve reads, maybe snapshot.
    /// Runs on the storage thread. A thrown error is a storage failure: the node halts.
    func run(on storage: NodeStorage) throws -> ReadyOutcome {
        var outcome = ReadyOutcome()
        let clock = ContinuousClock()
        let syncStart = clock.now
        if let snapshot { try install(snapshot, on: storage) }
        if !entries.isEmpty { beforeAppend?() }
        if !entries.isEmpty || hardState != nil {
            try storage.log.append(entries, hardState: hardState)
            outcome.synced = true
        }
        outcome.syncNanoseconds = Self.nanoseconds(clock.now - syncStart)
        let applyStart = clock.now
        let machine = storage.stateMachine
        for item in committed {
            let entry = item.entry
            if entry.kind == .confChange {
                if let confState = item.confState {
                    try machine.applyConfChange(index: entry.index, term: entry.term, confState: confState)
                }
                continue
            }
            let envelope = EntryEnvelope(decoding: entry.data)
            if envelope == nil && !entry.data.isEmpty && entry.index > machine.appliedIndex {
                // Written by a newer (or broken) node: applying the bytes as a bare command would make
                // this replica diverge from the ones that understand them. Halt until upgraded.
                throw StorageError(
                    .unsupportedVersion,
                    "entry \(entry.index) has an envelope of version \(entry.data[0]) (\(entry.data.count) bytes); this node reads version \(EntryEnvelope.version)")
            }
            // Entries at or below the applied index are skipped (apply returns nil): a snapshot
            // installed after this Ready was taken already contains them (core note R1).
            guard let result = try machine.apply(index: entry.index, term: entry.term, entryData: envelope?.command ?? []) else {
                continue
            }
            if envelope != nil { outcome.appliedCommands += 1 }
            if let envelope, envelope.origin == node { outcome.results.append((envelope.requestID, result)) }
        }
        for read in reads where read.index <= machine.appliedIndex {
            outcome.reads.append((read.id, Result { () throws(StorageError) -> KVResponse in try Self.read(read.request, machine) }))
        }
        outcome.applyNanoseconds = Self.nanoseconds(clock.now - applyStart)
        outcome.appliedIndex = machine.appliedIndex
        outcome.revision = machine.revision
        outcome.compactedRevision = machine.compactedRevision
        if pendingImage == nil && !imageBuilding {
            let sinceSnapshot = machine.appliedIndex.rawValue - min(machine.appliedIndex.rawValue, storage.log.snapshotMetadata.index.rawValue)
            if sinceSnapshot >= snapshotEntries, machine.appliedTerm != .zero {
                // Only the RocksDB snapshot is taken here; the image is read elsewhere (N4).
                outcome.imageSource = ImageSource(
                    writer: machine.makeSnapshot(),
                    metadata: SnapshotMetadata(index: machine.appliedIndex, term: machine.appliedTerm, confState: machine.membership),
                    beforeRead: beforeImageRead)
            }
        }
        // Compact only through an image at least `snapshotCatchUpEntries` behind the applied index:
        // the entries after it stay for followers a little behind.
        if let pending = pendingImage, machine.appliedIndex.rawValue >= pending.index.rawValue &+ snapshotCatchUpEntries,
            pending.index > storage.log.snapshotMetadata.index
        {
            try storage.log.compact(through: pending)
            outcome.compacted = pending
        }
        return outcome
    }

    /// A state-machine image at the applied index. Does not compact anything.
    static func takeImage(_ storage: NodeStorage) throws -> SnapshotImage {
        let machine = storage.stateMachine
        let data = SnapshotData.encode(try machine.makeSnapshot().allChunks())
        let metadata = SnapshotMetadata(index: machine.appliedIndex, term: machine.appliedTerm, confState: machine.membership)
        return SnapshotImage(metadata: metadata, data: data)
    }

    /// A state-machine image at the applied index, and the log compacted up to it (restart only:
    /// the core is handed exactly this image for this index).
    static func takeSnapshot(_ storage: NodeStorage) throws -> (index: LogIndex, data: [UInt8]) {
        let image = try takeImage(storage)
        if image.metadata.index > storage.log.snapshotMetadata.index { try storage.log.compact(through: image.metadata) }
        return (image.metadata.index, image.data)
    }

    private func install(_ snapshot: Snapshot, on storage: NodeStorage) throws {
        let metadata = snapshot.metadata
        if snapshot.data.isEmpty {
            // Only the founding snapshot may be empty; an empty image anywhere else would silently
            // drop data, so the node halts instead.
            guard metadata.index == LogIndex(1) else {
                throw StorageError(.snapshotInvalid, "snapshot at index \(metadata.index) carries no state-machine image")
            }
            // The bootstrap snapshot: an empty state machine with the founding membership. State
            // machine first: the synced log write below also makes it durable, and a crash in
            // between leaves applied >= the log's snapshot, which storage accepts on open.
            try storage.stateMachine.applyConfChange(index: metadata.index, term: metadata.term, confState: metadata.confState)
            try storage.log.installSnapshot(metadata)
            return
        }
        let receiver = try SnapshotData.receiver(for: snapshot.data)
        guard let header = receiver.header, header.appliedIndex == metadata.index else {
            throw StorageError(.snapshotInvalid, "snapshot for index \(metadata.index) carries state applied through \(receiver.header?.appliedIndex.description ?? "nothing")")
        }
        try storage.installSnapshot(receiver, term: metadata.term)
    }

    private static func read(_ request: KVCommand, _ machine: KVStateMachine) throws(StorageError) -> KVResponse {
        do { return try machine.read(request) } catch let error as StorageError { throw error } catch {
            throw StorageError(.io, "\(error)")
        }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
