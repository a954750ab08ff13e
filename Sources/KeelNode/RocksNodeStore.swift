import KeelStorage
import Raft

/// The server's ``NodeStore``: the Raft log and the MVCC state machine in one RocksDB database.
extension NodeStorage: NodeStore {
    /// Appends entries and the hard state in one synced write (``KeelStorage/RaftLogStore/append(_:hardState:)``).
    public func appendLog(_ entries: [Entry], hardState: HardState?) throws { try log.append(entries, hardState: hardState) }

    /// The log's snapshot metadata.
    public var logSnapshot: SnapshotMetadata { log.snapshotMetadata }

    /// Drops the log through `metadata.index`, synced.
    public func compactLog(through metadata: SnapshotMetadata) throws { try log.compact(through: metadata) }

    /// Records the bootstrap snapshot: the state machine's membership, then the log's snapshot.
    public func installFoundingSnapshot(_ metadata: SnapshotMetadata) throws {
        // State machine first: the synced log write below also makes it durable, and a crash in
        // between leaves applied >= the log's snapshot, which storage accepts on open.
        try stateMachine.applyConfChange(index: metadata.index, term: metadata.term, confState: metadata.confState)
        try log.installSnapshot(metadata)
    }

    /// Installs a leader's image after checking it is the state at the snapshot's index.
    public func installSnapshot(_ snapshot: Snapshot) throws {
        let receiver = try SnapshotData.receiver(for: snapshot.data, index: snapshot.metadata.index)
        try installSnapshot(receiver, term: snapshot.metadata.term)
    }

    /// The state machine's applied index.
    public var appliedIndex: LogIndex { stateMachine.appliedIndex }
    /// The term of the last applied entry.
    public var appliedTerm: Term { stateMachine.appliedTerm }
    /// The MVCC store's revision.
    public var revision: Int64 { stateMachine.revision }
    /// The MVCC store's compacted revision.
    public var compactedRevision: Int64 { stateMachine.compactedRevision }
    /// The membership as of the applied index.
    public var membership: ConfState { stateMachine.membership }

    /// Applies one entry's command (unsynced; the next synced log write makes it durable).
    public func apply(index: LogIndex, term: Term, entryData: [UInt8]) throws -> Result<KVResponse, StorageError>? {
        try stateMachine.apply(index: index, term: term, entryData: entryData)
    }

    /// Records a configuration entry's outcome and the members' descriptions.
    public func applyConfChange(index: LogIndex, term: Term, confState: ConfState, members: [UInt8]?) throws {
        try stateMachine.applyConfChange(index: index, term: term, confState: confState, members: members)
    }

    /// The members' descriptions as applied.
    public func members() throws -> [UInt8]? { try stateMachine.members() }

    /// Every lease as applied.
    public func leases() throws -> [LeaseRecord] { try stateMachine.leases() }

    /// Serves a Range or read-only Txn from the applied state.
    public func read(_ command: KVCommand) throws -> KVResponse { try stateMachine.read(command) }

    /// A RocksDB snapshot of the applied state, to be read off the storage thread.
    public func openImage() -> ImageSource {
        let machine = stateMachine
        return ImageSource(
            reader: RocksImageReader(writer: machine.makeSnapshot()),
            metadata: SnapshotMetadata(index: machine.appliedIndex, term: machine.appliedTerm, confState: machine.membership))
    }
}

/// Reads an image through a RocksDB snapshot.
///
/// `@unchecked Sendable`: the writer is used by one thread at a time. It is created on the storage
/// thread and handed whole to the image queue; the storage thread never touches it again. It reads
/// through its own RocksDB snapshot (which keeps the database open), so writes applied meanwhile
/// do not reach it.
struct RocksImageReader: ImageReader, @unchecked Sendable {
    let writer: SnapshotWriter

    func read() throws -> [UInt8] { SnapshotData.encode(try writer.allChunks()) }
}
