import Raft

/// The durable Raft log, hard state and snapshot metadata of one node.
///
/// Entries live in their own column family as segments: the entries of one append, keyed by the
/// big-endian index of the first (so segments sort by index) and checksummed together. Hard state
/// and snapshot metadata live in a meta column family. Every mutation is one atomic RocksDB batch,
/// synced before the call returns, because a node may acknowledge an append only once it is
/// durable (Figure 2, "Persistent state ... updated on stable storage before responding").
///
/// Invariants (checked on open): the segments hold exactly `firstIndex...lastIndex` with no holes
/// or overlaps, `firstIndex == snapshot.index + 1`, terms never decrease and never fall below the
/// snapshot's term, and `hardState.commit <= lastIndex`.
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
    /// The stored segments in index order, as `first...last`.
    /// Invariant: contiguous, starting at `firstIndex`, ending at `lastIndex`.
    private var segments: [ClosedRange<LogIndex>] = []

    /// Bytes the log stores per entry besides the entry's data (term, index, kind, length).
    public static var entryOverheadBytes: Int { LogSegmentCoding.entryOverheadBytes }

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

    private static func key(_ index: LogIndex) -> [UInt8] { bigEndianKey(index.rawValue) }

    /// Walks the whole log once and checks every invariant, naming the first index that breaks one.
    private func verify() throws {
        var expected = firstIndex
        var previousTerm = snapshotMetadata.term
        let iterator = database.iterator(Self.logFamily)
        iterator.seekToFirst()
        while iterator.isValid {
            var keyReader = ByteReader(iterator.key, what: "raft log key")
            let first = LogIndex(try keyReader.u64())
            try keyReader.finish()
            guard first == expected else {
                if first < expected {
                    throw StorageError.corruption("raft log: entry \(first) overlaps entries before \(expected) or the snapshot at \(snapshotMetadata.index)")
                }
                throw StorageError.corruption("raft log: hole, expected entry \(expected) but found \(first)")
            }
            let entries = try LogSegmentCoding.decode(iterator.value, first: first)
            for entry in entries {
                guard entry.term >= previousTerm else {
                    throw StorageError.corruption("raft log: term decreases at entry \(entry.index) (\(entry.term) after \(previousTerm))")
                }
                previousTerm = entry.term
            }
            let last = entries[entries.count - 1].index
            segments.append(first...last)
            expected = last.advanced(by: 1)
            iterator.next()
        }
        try iterator.check()
        lastIndex = expected.advanced(by: -1)
        lastTerm = previousTerm
        guard hardState.commit <= lastIndex else {
            throw StorageError.corruption("raft log: commit index \(hardState.commit) is beyond last entry \(lastIndex)")
        }
    }

    /// The position in `segments` of the segment holding `index`, which must be in the log.
    private func segmentPosition(of index: LogIndex) -> Int {
        var low = 0
        var high = segments.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if segments[middle].lowerBound <= index { low = middle } else { high = middle - 1 }
        }
        precondition(segments[low].contains(index), "index \(index) is not in segment \(segments[low])")
        return low
    }

    private func readSegment(_ range: ClosedRange<LogIndex>) throws -> [Entry] {
        guard let bytes = try database.get(Self.logFamily, Self.key(range.lowerBound)) else {
            throw StorageError.corruption("raft log: segment of entries \(range.lowerBound)...\(range.upperBound) is missing")
        }
        let entries = try LogSegmentCoding.decode(bytes, first: range.lowerBound)
        guard entries.last?.index == range.upperBound else {
            throw StorageError.corruption("raft log: segment at entry \(range.lowerBound) changed length underneath")
        }
        return entries
    }

    /// Queues in the batch the removal of every entry at `index` and after (which must be in the
    /// log); a segment that straddles `index` is rewritten with only its earlier entries. Returns
    /// how to update `segments` once the batch is written: drop from `position` on, then append
    /// `replacement` if any. (Planned rather than applied so a failed write changes nothing, and
    /// so appends do not copy the segment list.)
    private func planTruncation(from index: LogIndex, in batch: RocksWriteBatch) throws -> (position: Int, replacement: ClosedRange<LogIndex>?) {
        let family = database.family(Self.logFamily)
        let position = segmentPosition(of: index)
        for range in segments[position...] { batch.delete(family: family, Self.key(range.lowerBound)) }
        let straddling = segments[position]
        guard straddling.lowerBound < index else { return (position, nil) }
        let head = try readSegment(straddling).prefix { $0.index < index }
        batch.put(family: family, Self.key(straddling.lowerBound), LogSegmentCoding.encode(head))
        return (position, straddling.lowerBound...index.advanced(by: -1))
    }

    /// Persists entries and, when given, a hard state in one synced atomic write.
    ///
    /// Entries must be contiguous and start no later than `lastIndex + 1` and after the snapshot.
    /// Entries already stored at those indexes, and everything after them, are replaced: a follower
    /// overwrites a conflicting suffix with the leader's (§5.3).
    public func append(_ entries: [Entry], hardState newHardState: HardState? = nil) throws {
        let batch = RocksWriteBatch()
        var truncation: (position: Int, replacement: ClosedRange<LogIndex>?)?
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
            }
            // The replaced suffix goes in the same batch, so no reader or crash ever sees old and
            // new entries mixed.
            if first.index <= lastIndex { truncation = try planTruncation(from: first.index, in: batch) }
            newLast = entries[entries.count - 1].index
            newLastTerm = previousTerm
            batch.put(family: database.family(Self.logFamily), Self.key(first.index), LogSegmentCoding.encode(entries[...]))
        }
        // Checked against the stored commit too: cutting committed entries off would leave a log
        // that fails its own check on the next open.
        let commit = newHardState?.commit ?? hardState.commit
        guard commit <= newLast else {
            throw StorageError.invalid("commit index \(commit) would be beyond last index \(newLast)")
        }
        if let newHardState {
            batch.put(family: database.family(Self.metaFamily), Self.hardStateKey, RaftCoding.encode(newHardState))
        }
        guard batch.count > 0 else { return }
        try database.write(batch, sync: true)
        if let truncation {
            segments.removeSubrange(truncation.position...)
            if let replacement = truncation.replacement { segments.append(replacement) }
        }
        if let first = entries.first { segments.append(first.index...newLast) }
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
        let range = segments[segmentPosition(of: index)]
        return try readSegment(range)[Int(range.lowerBound.distance(to: index))]
    }

    /// Entries in `[low, high)`, stopping once their size passes `bytesMax` but always returning at
    /// least one entry so that a single large entry can still make progress.
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
        let start = segments[segmentPosition(of: low)].lowerBound
        var expected = start
        try database.iterator(Self.logFamily).forEach(from: Self.key(start), to: Self.key(high)) { key, value in
            var keyReader = ByteReader(key, what: "raft log key")
            let first = LogIndex(try keyReader.u64())
            guard first == expected else {
                throw StorageError.corruption("raft log: hole, expected entry \(expected) but found \(first)")
            }
            for entry in try LogSegmentCoding.decode(value, first: first) {
                expected = entry.index.advanced(by: 1)
                if entry.index < low { continue }
                if entry.index >= high { return false }
                bytes += entry.data.count + LogSegmentCoding.entryOverheadBytes
                if !result.isEmpty, bytes > bytesMax { return false }
                result.append(entry)
            }
            return true
        }
        guard result.first?.index == low else { throw StorageError.corruption("raft log: entry \(low) is missing") }
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
        let newSegments = try dropPrefix(through: metadata.index, in: batch)
        batch.put(family: database.family(Self.metaFamily), Self.snapshotKey, RaftCoding.encode(metadata))
        try database.write(batch, sync: true)
        segments = newSegments
        snapshotMetadata = metadata
    }

    /// Removes every entry at or below `index` (which must be in the log); a segment that straddles
    /// it is rewritten at `index + 1` with its later entries.
    private func dropPrefix(through index: LogIndex, in batch: RocksWriteBatch) throws -> [ClosedRange<LogIndex>] {
        let family = database.family(Self.logFamily)
        let position = segmentPosition(of: index)
        for range in segments[...position] { batch.delete(family: family, Self.key(range.lowerBound)) }
        var kept = Array(segments[(position + 1)...])
        let straddling = segments[position]
        if straddling.upperBound > index {
            let tail = try readSegment(straddling).drop { $0.index <= index }
            batch.put(family: family, Self.key(index.advanced(by: 1)), LogSegmentCoding.encode(tail))
            kept.insert(index.advanced(by: 1)...straddling.upperBound, at: 0)
        }
        return kept
    }

    /// Records a snapshot received from a leader (§7). If the log holds the snapshot's last entry
    /// with the same term, the entries after it are kept; otherwise the whole log is discarded.
    /// The commit index moves up to the snapshot index.
    public func installSnapshot(_ metadata: SnapshotMetadata) throws {
        let batch = RocksWriteBatch()
        let commit = try planInstall(metadata, in: batch)
        try database.write(batch, sync: true)
        commit()
    }

    /// Queues a snapshot install in `batch` (so a caller can add the state machine's restore to the
    /// same atomic write) and returns what to do to the in-memory state once the batch is written.
    func planInstall(_ metadata: SnapshotMetadata, in batch: RocksWriteBatch) throws -> () -> Void {
        guard metadata.index > snapshotMetadata.index else {
            throw StorageError(.compacted, "snapshot at \(metadata.index) is older than snapshot at \(snapshotMetadata.index)")
        }
        let keepSuffix = metadata.index <= lastIndex && (try? term(at: metadata.index)) == metadata.term
        // Committed entries are never replaced (§5.4); a snapshot that contradicts one, if obeyed,
        // would also leave the commit index beyond the emptied log.
        guard keepSuffix || hardState.commit <= metadata.index else {
            throw StorageError.invalid(
                "snapshot at \(metadata.index) with term \(metadata.term) conflicts with the log, committed through \(hardState.commit)")
        }
        let newSegments: [ClosedRange<LogIndex>]
        if keepSuffix {
            newSegments = try dropPrefix(through: metadata.index, in: batch)
        } else {
            let family = database.family(Self.logFamily)
            for range in segments { batch.delete(family: family, Self.key(range.lowerBound)) }
            newSegments = []
        }
        batch.put(family: database.family(Self.metaFamily), Self.snapshotKey, RaftCoding.encode(metadata))
        var newHardState = hardState
        newHardState.commit = max(newHardState.commit, metadata.index)
        batch.put(family: database.family(Self.metaFamily), Self.hardStateKey, RaftCoding.encode(newHardState))
        return { [self] in
            segments = newSegments
            snapshotMetadata = metadata
            hardState = newHardState
            if !keepSuffix {
                lastIndex = metadata.index
                lastTerm = metadata.term
            }
        }
    }
}
