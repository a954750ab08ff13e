import KeelStorage
import Raft

/// The server's ``NodeStore``: the Raft log and the MVCC state machine in one RocksDB database.
extension NodeStorage: NodeStore {
    public func appendLog(_ entries: [Entry], hardState: HardState?) throws { try log.append(entries, hardState: hardState) }

    public var logSnapshot: SnapshotMetadata { log.snapshotMetadata }

    public func compactLog(through metadata: SnapshotMetadata) throws { try log.compact(through: metadata) }

    public func installFoundingSnapshot(_ metadata: SnapshotMetadata) throws {
        // State machine first: the synced log write below also makes it durable, and a crash in
        // between leaves applied >= the log's snapshot, which storage accepts on open.
        try stateMachine.applyConfChange(index: metadata.index, term: metadata.term, confState: metadata.confState)
        try log.installSnapshot(metadata)
    }

    public func installSnapshot(_ snapshot: Snapshot) throws {
        let metadata = snapshot.metadata
        let receiver = try SnapshotData.receiver(for: snapshot.data)
        guard let header = receiver.header, header.appliedIndex == metadata.index else {
            throw StorageError(
                .snapshotInvalid,
                "snapshot for index \(metadata.index) carries state applied through \(receiver.header?.appliedIndex.description ?? "nothing")")
        }
        try installSnapshot(receiver, term: metadata.term)
    }

    public var appliedIndex: LogIndex { stateMachine.appliedIndex }
    public var appliedTerm: Term { stateMachine.appliedTerm }
    public var revision: Int64 { stateMachine.revision }
    public var compactedRevision: Int64 { stateMachine.compactedRevision }
    public var membership: ConfState { stateMachine.membership }

    public func apply(index: LogIndex, term: Term, entryData: [UInt8]) throws -> Result<KVResponse, StorageError>? {
        try stateMachine.apply(index: index, term: term, entryData: entryData)
    }

    public func applyConfChange(index: LogIndex, term: Term, confState: ConfState) throws {
        try stateMachine.applyConfChange(index: index, term: term, confState: confState)
    }

    public func read(_ command: KVCommand) throws -> KVResponse { try stateMachine.read(command) }

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
