import Raft

/// The durable Raft log, hard state and snapshot metadata of one node.
///
/// Entries live in their own column family keyed by big-endian index, so they sort by index; hard
/// state and snapshot metadata live in a meta column family. Every mutation is one atomic RocksDB
/// batch, synced before the call returns, because a node may acknowledge an append only once it is
/// durable (Figure 2, "Persistent state ... updated on stable storage before responding").
///
/// Invariants (checked on open): entries are exactly `firstIndex...lastIndex` with no holes,
/// `firstIndex == snapshot.index + 1`, terms never decrease and never fall below the snapshot's term,
/// and `snapshot.index <= hardState.commit <= lastIndex`.
public final class RaftLogStore {
    static let logFamily = "raft_log"
    static let metaFamily = "raft_meta"
    private static let hardStateKey = Array("hard_state".utf8)
    private static let snapshotKey = Array("snapshot".utf8)

    private let database: RocksDatabase

    /// The last persisted hard state.
    public private(set) var hardState: HardState
    /// What the most recent snapshot or compaction covers; index zero when there was none.
    public private(set) var snapshotMetadata: SnapshotMetadata
    /// The index of the last entry, or the snapshot index when the log is empty.
    public private(set) var lastIndex: LogIndex
    private var lastTerm: Term

    /// The first index still in the log (one past the snapshot).
    public var firstIndex: LogIndex { snapshotMetadata.index.advanced(by: 1) }

    init(database: RocksDatabase) throws {
        self.database = database
        hardState = try database.get(Self.metaFamily, Self.hardStateKey).map(RaftCoding.decodeHardState) ?? .initial
        snapshotMetadata = try database.get(Self.metaFamily, Self.snapshotKey).map(RaftCoding.decodeSnapshotMetadata)
            ?? SnapshotMetadata(index: .zero, term: .zero, confState: ConfState())
        lastIndex = snapshotMetadata.index
        lastTerm = snapshotMetadata.term
        try verify()
    }

    /// Walks the whole log once and checks every invariant, naming the first index that breaks one.
    private func verify() throws {
        var expected = firstIndex
        var previousTerm = snapshotMetadata.term
        let iterator = database.iterator(Self.logFamily)
        iterator.seekToFirst()
        while iterator.isValid {
            let key = iterator.key
            var keyReader = ByteReader(key, what: "log key")
            let keyIndex = LogIndex(try keyReader.u64())
            try keyReader.finish()
            guard keyIndex == expected else {
                if keyIndex < expected {
                    throw StorageError.corruption("raft log: entry \(keyIndex) is at or below snapshot index \(snapshotMetadata.index)")
                }
                throw StorageError.corruption("raft log: hole, expected entry \(expected) but found \(keyIndex)")
            }
            let entry = try RaftCoding.decodeEntry(iterator.value, what: "raft log entry \(keyIndex)")
            guard entry.index == keyIndex else {
                throw StorageError.corruption("raft log: entry stored at \(keyIndex) claims index \(entry.index)")
            }
            guard entry.term >= previousTerm else {
                throw StorageError.corruption("raft log: term decreases at entry \(keyIndex) (\(entry.term) after \(previousTerm))")
            }
            previousTerm = entry.term
            expected = expected.advanced(by: 1)
            iterator.next()
        }
        try iterator.check()
        lastIndex = expected.advanced(by: -1)
        lastTerm = previousTerm
        guard hardState.commit <= lastIndex else {
            throw StorageError.corruption("raft log: commit index \(hardState.commit) is beyond last entry \(lastIndex)")
        }
    }

    /// Persists entries and, when given, a hard state in one synced atomic write.
    ///
    /// Entries must be contiguous and start no later than `lastIndex + 1` and after the snapshot.
    /// Entries already stored at those indexes, and everything after them, are replaced: a follower
    /// overwrites a conflicting suffix with the leader's (§5.3).
    public func append(_ entries: [Entry], hardState newHardState: HardState? = nil) throws {
        let batch = RocksWriteBatch()
        let logFamily = database.family(Self.logFamily)
        var newLast = lastIndex
        var newLastTerm = lastTerm
        if let first = entries.first {
            guard first.index > snapshotMetadata.index else {
                throw StorageError(.compacted, "append at \(first.index) is at or below snapshot index \(snapshotMetadata.index)")
            }
            guard first.index <= lastIndex.advanced(by: 1) else {
                throw StorageError.invalid("append at \(first.index) would leave a hole after last index \(lastIndex)")
            }
            var previousTerm = first.index == firstIndex ? snapshotMetadata.term : try term(at: first.index.advanced(by: -1))
            for (offset, entry) in entries.enumerated() {
                precondition(entry.index == first.index.advanced(by: Int64(offset)), "appended entries must be contiguous")
                guard entry.term >= previousTerm else {
                    throw StorageError.invalid("append: term decreases at entry \(entry.index)")
                }
                previousTerm = entry.term
                batch.put(family: logFamily, bigEndianKey(entry.index.rawValue), RaftCoding.encode(entry))
            }
            newLast = entries[entries.count - 1].index
            newLastTerm = previousTerm
            // The stale suffix beyond the new entries goes in the same batch, so no reader or crash
            // ever sees old and new entries mixed.
            if newLast < lastIndex {
                batch.deleteRange(
                    family: logFamily, from: bigEndianKey(newLast.rawValue + 1), to: bigEndianKey(lastIndex.rawValue + 1))
            }
        }
        if let newHardState {
            guard newHardState.commit <= newLast else {
                throw StorageError.invalid("hard state commit \(newHardState.commit) is beyond last index \(newLast)")
            }
            batch.put(family: database.family(Self.metaFamily), Self.hardStateKey, RaftCoding.encode(newHardState))
        }
        guard batch.count > 0 else { return }
        try database.write(batch, sync: true)
        lastIndex = newLast
        lastTerm = newLastTerm
        if let newHardState { hardState = newHardState }
    }

    /// The term of the entry at `index`; the snapshot's term at the snapshot index.
    public func term(at index: LogIndex) throws -> Term {
        if index == snapshotMetadata.index { return snapshotMetadata.term }
        if index == lastIndex { return lastTerm }
        return try entry(at: index).term
    }

    /// One entry.
    public func entry(at index: LogIndex) throws -> Entry {
        guard index > snapshotMetadata.index else {
            throw StorageError(.compacted, "entry \(index) is compacted (snapshot index \(snapshotMetadata.index))")
        }
        guard index <= lastIndex else {
            throw StorageError(.unavailable, "entry \(index) is beyond last index \(lastIndex)")
        }
        guard let bytes = try database.get(Self.logFamily, bigEndianKey(index.rawValue)) else {
            throw StorageError.corruption("raft log: entry \(index) is missing")
        }
        return try RaftCoding.decodeEntry(bytes, what: "raft log entry \(index)")
    }

    /// Entries in `[low, high)`, stopping once their encoded size passes `bytesMax` but always
    /// returning at least one entry so that a single large entry can still make progress.
    public func entries(from low: LogIndex, to high: LogIndex, bytesMax: Int = .max) throws -> [Entry] {
        guard low > snapshotMetadata.index else {
            throw StorageError(.compacted, "entries from \(low) are compacted (snapshot index \(snapshotMetadata.index))")
        }
        guard high <= lastIndex.advanced(by: 1) else {
            throw StorageError(.unavailable, "entries up to \(high) requested, last index is \(lastIndex)")
        }
        guard low < high else { return [] }
        var result: [Entry] = []
        var bytes = 0
        var expected = low
        try database.iterator(Self.logFamily).forEach(from: bigEndianKey(low.rawValue), to: bigEndianKey(high.rawValue)) { _, value in
            let entry = try RaftCoding.decodeEntry(value, what: "raft log entry \(expected)")
            guard entry.index == expected else {
                throw StorageError.corruption("raft log: hole, expected entry \(expected) but found \(entry.index)")
            }
            bytes += value.count
            if !result.isEmpty, bytes > bytesMax { return false }
            result.append(entry)
            expected = expected.advanced(by: 1)
            return true
        }
        guard !result.isEmpty else { throw StorageError.corruption("raft log: entry \(low) is missing") }
        return result
    }

    /// Discards entries up to and including `metadata.index`, which must be in the log with that term
    /// (a snapshot taken by this node's state machine). Later entries stay.
    public func compact(through metadata: SnapshotMetadata) throws {
        guard metadata.index > snapshotMetadata.index else {
            throw StorageError(.compacted, "compact through \(metadata.index): already compacted through \(snapshotMetadata.index)")
        }
        guard metadata.index <= lastIndex else {
            throw StorageError(.unavailable, "compact through \(metadata.index): last index is \(lastIndex)")
        }
        let storedTerm = try term(at: metadata.index)
        guard storedTerm == metadata.term else {
            throw StorageError.invalid("compact through \(metadata.index): term \(metadata.term) but the log has \(storedTerm)")
        }
        let batch = RocksWriteBatch()
        batch.deleteRange(
            family: database.family(Self.logFamily), from: bigEndianKey(firstIndex.rawValue),
            to: bigEndianKey(metadata.index.rawValue + 1))
        batch.put(family: database.family(Self.metaFamily), Self.snapshotKey, RaftCoding.encode(metadata))
        try database.write(batch, sync: true)
        snapshotMetadata = metadata
    }

    /// Records a snapshot received from a leader (§7). If the log holds the snapshot's last entry
    /// with the same term, the entries after it are kept; otherwise the whole log is discarded.
    /// The commit index moves up to the snapshot index.
    public func installSnapshot(_ metadata: SnapshotMetadata) throws {
        guard metadata.index > snapshotMetadata.index else {
            throw StorageError(.compacted, "snapshot at \(metadata.index) is older than snapshot at \(snapshotMetadata.index)")
        }
        let keepSuffix = metadata.index <= lastIndex && (try? term(at: metadata.index)) == metadata.term
        let batch = RocksWriteBatch()
        let end = keepSuffix ? metadata.index.rawValue + 1 : lastIndex.rawValue + 1
        batch.deleteRange(family: database.family(Self.logFamily), from: bigEndianKey(firstIndex.rawValue), to: bigEndianKey(end))
        batch.put(family: database.family(Self.metaFamily), Self.snapshotKey, RaftCoding.encode(metadata))
        var newHardState = hardState
        newHardState.commit = max(newHardState.commit, metadata.index)
        batch.put(family: database.family(Self.metaFamily), Self.hardStateKey, RaftCoding.encode(newHardState))
        try database.write(batch, sync: true)
        snapshotMetadata = metadata
        hardState = newHardState
        if !keepSuffix {
            lastIndex = metadata.index
            lastTerm = metadata.term
        }
    }
}
