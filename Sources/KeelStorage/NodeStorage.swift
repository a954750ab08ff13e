import Glibc
import Raft

/// Everything a Raft core needs from disk to resume after a restart, as plain values.
public struct RestartState: Hashable, Sendable {
    /// The persisted term, vote and commit index.
    public var hardState: HardState
    /// What the latest snapshot covers.
    public var snapshotMetadata: SnapshotMetadata
    /// The log entries after the snapshot.
    public var entries: [Entry]
    /// The membership as of the applied index (the snapshot's when nothing was applied since).
    public var confState: ConfState
    /// The last entry the state machine applied.
    public var appliedIndex: LogIndex

    /// A restart state with these fields.
    public init(hardState: HardState, snapshotMetadata: SnapshotMetadata, entries: [Entry], confState: ConfState, appliedIndex: LogIndex) {
        self.hardState = hardState
        self.snapshotMetadata = snapshotMetadata
        self.entries = entries
        self.confState = confState
        self.appliedIndex = appliedIndex
    }
}

/// One node's durable state in one RocksDB database: the Raft log with its hard state, and the
/// MVCC state machine. Sharing a database lets a snapshot install touch both in one atomic write.
public final class NodeStorage {
    /// The Raft log, hard state and snapshot metadata.
    public let log: RaftLogStore
    /// The key-value state machine.
    public let stateMachine: KVStateMachine
    private let database: RocksDatabase
    static let columnFamilies = [RaftLogStore.logFamily, RaftLogStore.metaFamily] + KVStateMachine.families

    /// Opens (creating if missing) the store in `directory` and checks the log's invariants.
    /// Corruption is reported as a ``StorageError`` with code `corruption` naming what is damaged.
    public init(directory: String, options: StorageOptions = StorageOptions()) throws {
        if mkdir(directory, 0o755) != 0, errno != EEXIST {
            throw StorageError(.io, "cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        database = try RocksDatabase(
            path: directory, columnFamilies: Self.columnFamilies, options: options)
        log = try RaftLogStore(database: database)
        stateMachine = try KVStateMachine(database: database, options: options)
        // Entries at or below the snapshot index are gone; unless the state machine has applied
        // them (or restored a snapshot covering them), a restarted node would skip them.
        guard stateMachine.appliedIndex >= log.snapshotMetadata.index else {
            throw StorageError.corruption(
                "applied index \(stateMachine.appliedIndex) is below the log's snapshot index \(log.snapshotMetadata.index): "
                    + "entries \(stateMachine.appliedIndex.advanced(by: 1))...\(log.snapshotMetadata.index) were compacted before being applied")
        }
        guard stateMachine.appliedIndex <= log.lastIndex || log.lastIndex == log.snapshotMetadata.index else {
            throw StorageError.corruption(
                "applied index \(stateMachine.appliedIndex) is beyond the last log entry \(log.lastIndex)")
        }
    }

    /// What the Raft core needs to resume, read from disk.
    public func restartState() throws -> RestartState {
        let snapshot = log.snapshotMetadata
        let entries = log.lastIndex > snapshot.index ? try log.entries(from: log.firstIndex, to: log.lastIndex.advanced(by: 1)) : []
        let confState = stateMachine.appliedIndex >= snapshot.index && stateMachine.appliedIndex > .zero
            && stateMachine.membership != ConfState() ? stateMachine.membership : snapshot.confState
        return RestartState(
            hardState: log.hardState, snapshotMetadata: snapshot, entries: entries, confState: confState,
            appliedIndex: stateMachine.appliedIndex)
    }

    /// Installs a snapshot received from a leader: the state machine is replaced and the log
    /// discards what the snapshot covers, all in one synced write; a bad stream changes nothing.
    public func installSnapshot(_ receiver: SnapshotReceiver, term: Term) throws {
        let batch = try stateMachine.restoreBatch(from: receiver)
        let header = receiver.header!
        let commitLog = try log.planInstall(
            SnapshotMetadata(index: header.appliedIndex, term: term, confState: header.membership), in: batch)
        try database.write(batch, sync: true)
        commitLog()
        try stateMachine.reloadMeta()
        stateMachine.reportReplacedState()
    }

    /// Copies the database into `directory` (which must not exist yet): a backup that opens as a store.
    public func checkpoint(into directory: String) throws { try database.checkpoint(into: directory) }

    /// Writes memtables out to SST files (used by tests that damage SST files on purpose).
    public func flush() throws { try database.flush() }
}
