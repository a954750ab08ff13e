import KeelStorage
import Raft

/// What a node needs from its disk: the Raft log and hard state, and the key-value state machine
/// the committed entries are applied to. ``ReadyWork`` is written against this protocol only, so
/// the same persist-and-apply code runs on RocksDB in the server (``KeelStorage/NodeStorage``)
/// and on an in-memory store in the node simulation.
///
/// Durability contract (what the simulation's store models and the RocksDB one provides):
/// ``appendLog(_:hardState:)``, ``installSnapshot(_:)``, ``installFoundingSnapshot(_:)`` and
/// ``compactLog(through:)`` are synced before they return, and a synced write also makes every
/// earlier write durable; applies (``apply(index:term:entryData:)``,
/// ``applyConfChange(index:term:confState:members:)``) may be lost by a crash until the next synced write.
/// A write the log cannot take (below the snapshot, leaving a hole, cutting off committed entries)
/// throws and changes nothing: the node halts rather than continue on a damaged log.
public protocol NodeStore: AnyObject {
    /// Appends entries (replacing any conflicting suffix, §5.3) and the hard state, synced.
    func appendLog(_ entries: [Entry], hardState: HardState?) throws
    /// The log's snapshot: its first entry is the one after this index.
    var logSnapshot: SnapshotMetadata { get }
    /// Drops the log through `metadata.index` (an image of the state at that index exists).
    func compactLog(through metadata: SnapshotMetadata) throws
    /// Records the founding (bootstrap) snapshot: an empty state machine with its membership.
    func installFoundingSnapshot(_ metadata: SnapshotMetadata) throws
    /// Replaces the state machine and the log's prefix with a leader's image, synced; refuses (and
    /// changes nothing) an image that is not exactly the state at `metadata.index`.
    func installSnapshot(_ snapshot: Snapshot) throws
    /// What the core resumes from after a restart.
    func restartState() throws -> RestartState

    /// Index of the last entry applied to the state machine.
    var appliedIndex: LogIndex { get }
    /// Term of the last entry applied.
    var appliedTerm: Term { get }
    /// The store's current revision.
    var revision: Int64 { get }
    /// Revisions at or below this one were compacted away.
    var compactedRevision: Int64 { get }
    /// The membership as of the applied index.
    var membership: ConfState { get }
    /// Applies one normal entry's command; nil if the entry was already applied.
    func apply(index: LogIndex, term: Term, entryData: [UInt8]) throws -> Result<KVResponse, StorageError>?
    /// Records a configuration entry's outcome at its index, with the members' descriptions
    /// (``MemberRegistry``'s encoding) when they changed.
    func applyConfChange(index: LogIndex, term: Term, confState: ConfState, members: [UInt8]?) throws
    /// The members' descriptions as applied (nil before any was recorded).
    func members() throws -> [UInt8]?
    /// Serves a Range or a read-only Txn from the applied state.
    func read(_ command: KVCommand) throws -> KVResponse
    /// A point-in-time view of the applied state, to be encoded into an image elsewhere.
    func openImage() -> ImageSource
    /// Every lease as applied, in id order.
    func leases() throws -> [LeaseRecord]
}

/// Reads a state-machine image. Created on the storage thread, read on another one.
public protocol ImageReader: Sendable {
    /// The image's bytes (the `data` of a Raft snapshot).
    func read() throws -> [UInt8]
}

/// A point-in-time view of the state machine and the log position it is the state of.
public struct ImageSource: Sendable {
    /// Reads the image.
    public var reader: any ImageReader
    /// The log position (and membership) the image is the state of.
    public var metadata: SnapshotMetadata

    /// A view to be read by `reader`, the state at `metadata.index`.
    public init(reader: any ImageReader, metadata: SnapshotMetadata) {
        self.reader = reader
        self.metadata = metadata
    }
}

/// A state-machine image and the log position it is the state of.
public struct SnapshotImage: Sendable {
    /// The position (and membership) it is the state of.
    public var metadata: SnapshotMetadata
    /// The encoded image.
    public var data: [UInt8]

    /// An image of the state at `metadata.index`.
    public init(metadata: SnapshotMetadata, data: [UInt8]) {
        self.metadata = metadata
        self.data = data
    }
}
