// The in-memory log: the snapshot it starts after, the entries after it, and cursors that say how
// much of it the host has persisted (`stable`), been handed for persisting (`persisting`), applied
// (`applied`) and been handed for applying (`applying`). Entries above `stable` are the unstable
// part: the host has not made them durable yet.

/// A class owned by exactly one node: calling its methods through the node never copies its
/// fields (a struct stored in the node was copied on the hot path, measured in raft-bench).
/// ``RaftLogView`` takes an immutable copy for readers.
final class RaftLog {
    /// The snapshot the log starts after (index 0, term 0 for a log that never compacted).
    private(set) var snapshot: SnapshotMetadata
    /// The state-machine image of `snapshot`, sent to followers that are too far behind (§7).
    private(set) var snapshotData: [UInt8]
    /// Storage for the entries after the snapshot, from `entriesStart` on; the slots before it were
    /// compacted and are dropped lazily, so compaction does not shift the array every time.
    /// Invariant: entries[entriesStart + i].index == snapshot.index + 1 + i.
    private var entries: [Entry]
    private var entriesStart = 0
    /// The last slice handed out (for a Ready or an append), so the same range handed out again
    /// (the leader's new entries go to the host and to every follower) shares one array instead of
    /// copying every entry again. Invariant: equals the log's entries at [lo, lo + count).
    private var sliceCache: (lo: LogIndex, entries: [Entry])?
    /// Compacted slots are dropped once they are this many and at least half the storage.
    static let compactedSlotsDropMin = 1024
    /// Invariant: snapshot.index <= committed <= lastIndex.
    private(set) var committed: LogIndex
    /// Invariant: applied <= applying <= committed.
    private(set) var applied: LogIndex
    private(set) var applying: LogIndex
    /// Highest index the host has persisted. Invariant: stable <= persisting <= lastIndex.
    private(set) var stable: LogIndex
    /// Highest index handed to the host in a Ready.
    private(set) var persisting: LogIndex
    /// A snapshot received from the leader that the host has not been handed yet.
    private(set) var unstableSnapshot: Snapshot?

    init(restored: RestoredState) {
        let snap = restored.snapshot ?? SnapshotMetadata(index: .zero, term: .zero, confState: restored.confState)
        snapshot = snap
        snapshotData = restored.snapshotData
        entries = restored.entries
        for (i, e) in entries.enumerated() {
            precondition(e.index == snap.index.advanced(by: Int64(i) + 1), "restored entries must follow the snapshot contiguously")
            precondition(e.term >= snap.term, "restored entry terms go back in time")
            precondition(i == 0 || entries[i - 1].term <= e.term, "restored entry terms go back in time")
        }
        let last = snap.index.advanced(by: Int64(entries.count))
        // Whatever the host applied was committed, even if its hard state lagged.
        committed = max(restored.hardState.commit, snap.index, restored.applied)
        precondition(committed <= last, "restored commit or applied index beyond the restored log")
        applied = max(restored.applied, snap.index)
        applying = applied
        stable = last
        persisting = last
        unstableSnapshot = nil
        checkInvariants()
    }

    func checkInvariants() {
        precondition(snapshot.index <= committed)
        precondition(committed <= lastIndex)
        precondition(applied <= applying)
        precondition(applying <= committed)
        precondition(stable <= persisting)
        precondition(persisting <= lastIndex)
    }

    var firstIndex: LogIndex { snapshot.index.advanced(by: 1) }
    /// Entries held after the snapshot.
    var count: Int { entries.count - entriesStart }
    var lastIndex: LogIndex { snapshot.index.advanced(by: Int64(count)) }
    var lastTerm: Term { count > 0 ? entries[entries.count - 1].term : snapshot.term }

    /// The term at `index`; nil if compacted away or not yet present.
    func term(at index: LogIndex) -> Term? {
        if index == snapshot.index { return snapshot.term }
        if index < snapshot.index || index > lastIndex { return nil }
        return entries[position(index)].term
    }

    private func position(_ index: LogIndex) -> Int {
        entriesStart + Int(index.rawValue - snapshot.index.rawValue - 1)
    }

    func matchTerm(_ index: LogIndex, _ term: Term) -> Bool {
        self.term(at: index) == term
    }

    /// §5.4.1: a candidate's log is at least as up to date as ours if its last term is higher, or the
    /// same with an index at least as large. The election restriction that gives Leader Completeness.
    func isUpToDate(lastTerm candidateTerm: Term, lastIndex candidateIndex: LogIndex) -> Bool {
        candidateTerm > lastTerm || (candidateTerm == lastTerm && candidateIndex >= lastIndex)
    }

    /// Entries [lo, hi); both must be held.
    func slice(_ lo: LogIndex, _ hi: LogIndex) -> [Entry] {
        precondition(lo >= firstIndex, "slice below the first index")
        precondition(hi <= lastIndex.advanced(by: 1), "slice past the last index")
        if lo >= hi { return [] }
        return copy(position(lo), position(hi), lo: lo)
    }

    /// Entries at storage positions [start, end) whose first index is `lo`, sharing the cached
    /// array when it is the same range. The copy loop is specialised for `Entry` (the generic
    /// `Array(slice)` path copies through value witnesses, measurably slower).
    private func copy(_ start: Int, _ end: Int, lo: LogIndex) -> [Entry] {
        let n = end - start
        if let cache = sliceCache, cache.lo == lo, cache.entries.count == n { return cache.entries }
        // Captured alone: a closure capturing `self` would copy the whole log struct.
        let storage = entries
        return [Entry](unsafeUninitializedCapacity: n) { buffer, initialized in
            storage.withUnsafeBufferPointer { source in
                for i in 0..<n { (buffer.baseAddress! + i).initialize(to: source[start + i]) }
            }
            initialized = n
        }
    }

    /// An immutable copy of what readers may see.
    func view() -> RaftLogView {
        RaftLogView(snapshot: snapshot, committed: committed, entries: entries[entriesStart...])
    }

    /// Remembers `slice` (starting at index `lo`) as the last range handed out.
    private func cache(_ slice: [Entry], lo: LogIndex) {
        sliceCache = slice.isEmpty ? nil : (lo, slice)
    }

    /// Entries from `lo` for one append: at most `maxCount`, and within `maxBytes` of payload except
    /// that the first entry always goes. Nil if `lo` was compacted away.
    func entriesForAppend(from lo: LogIndex, maxBytes: Int, maxCount: Int) -> [Entry]? {
        if lo < firstIndex { return nil }
        if lo > lastIndex { return [] }
        let start = position(lo)
        var end = start
        var bytes = 0
        let limit = min(entries.count, start + maxCount)
        while end < limit {
            bytes += entries[end].data.count
            if end > start && bytes > maxBytes { break }
            end += 1
        }
        return copy(start, end, lo: lo)
    }

    /// The largest index <= `index` whose term is <= `term`, with its term (fast backtracking: any
    /// entry in between has a term the other side cannot match).
    func findConflictByTerm(_ index: LogIndex, _ term: Term) -> (index: LogIndex, term: Term) {
        // Below our snapshot we know no terms: the index itself is the best guess (a leader then
        // sends the snapshot straight away).
        if index < snapshot.index { return (index, .zero) }
        var i = min(index, lastIndex)
        while i > snapshot.index {
            let t = entries[position(i)].term
            if t <= term { return (i, t) }
            i = i.advanced(by: -1)
        }
        return (snapshot.index, snapshot.term)
    }

    /// Appends as a leader. Entries must follow the last index.
    func append(_ new: some Collection<Entry>) {
        guard let first = new.first else { return }
        precondition(first.index == lastIndex.advanced(by: 1), "leader append must follow the log")
        precondition(first.term >= lastTerm, "terms in the log never decrease")
        entries.append(contentsOf: new)
        precondition(lastIndex == first.index.advanced(by: Int64(new.count) - 1))
    }

    /// Follower's append (§5.3): if the entry at `prevIndex` has `prevTerm`, adds `new` after it,
    /// truncating any conflicting suffix, and advances the commit to min(`leaderCommit`, last new
    /// index). Returns the last new index, or nil when the log does not match.
    func maybeAppend(prevIndex: LogIndex, prevTerm: Term, leaderCommit: LogIndex, _ new: [Entry]) -> LogIndex? {
        guard matchTerm(prevIndex, prevTerm) else { return nil }
        let lastNew = prevIndex.advanced(by: Int64(new.count))
        if let conflict = findConflict(new) {
            precondition(conflict > committed, "a committed entry conflicts with the leader (Log Matching broken)")
            let offset = Int(conflict.rawValue - prevIndex.rawValue - 1)
            truncateAndAppend(new[offset...])
            if offset == 0 {
                // The leader's array is exactly the new unstable part: hand it to the host as is.
                cache(new, lo: conflict)
            }
        }
        commit(to: min(leaderCommit, lastNew))
        return lastNew
    }

    /// The index of the first entry of `new` that is absent or has another term here.
    private func findConflict(_ new: [Entry]) -> LogIndex? {
        guard let first = new.first else { return nil }
        if first.index > lastIndex { return first.index }
        for e in new where !matchTerm(e.index, e.term) {
            return e.index
        }
        return nil
    }

    private func truncateAndAppend(_ new: ArraySlice<Entry>) {
        guard let first = new.first else { return }
        precondition(first.index > snapshot.index, "cannot replace compacted entries")
        precondition(first.index <= lastIndex.advanced(by: 1), "gap in the log")
        let keep = position(first.index)
        if keep < entries.count {
            entries.removeSubrange(keep...)
            if let cache = sliceCache, cache.lo.advanced(by: Int64(cache.entries.count)) > first.index {
                sliceCache = nil
            }
            let previous = first.index.advanced(by: -1)
            stable = min(stable, previous)
            persisting = min(persisting, previous)
        }
        entries.append(contentsOf: new)
        checkInvariants()
    }

    func commit(to index: LogIndex) {
        guard index > committed else { return }
        precondition(index <= lastIndex, "commit beyond the last index")
        committed = index
    }

    /// Replaces the whole log by a snapshot from the leader (§7).
    func restore(_ snap: Snapshot) {
        precondition(snap.metadata.index > committed, "restoring a snapshot older than the commit")
        snapshot = snap.metadata
        snapshotData = snap.data
        entries = []
        entriesStart = 0
        sliceCache = nil
        committed = snap.metadata.index
        applied = snap.metadata.index
        applying = snap.metadata.index
        stable = snap.metadata.index
        persisting = snap.metadata.index
        unstableSnapshot = snap
        checkInvariants()
    }

    /// The host compacted its storage up to `index` (<= applied) and took a snapshot there.
    func compact(upTo index: LogIndex, confState: ConfState, data: [UInt8]) {
        precondition(index <= applying, "compacting past what the host was given to apply")
        guard index > snapshot.index else { return }
        guard let t = term(at: index) else { preconditionFailure("compact index not in the log") }
        entriesStart = position(index) + 1
        if entriesStart >= Self.compactedSlotsDropMin && entriesStart * 2 >= entries.count {
            entries.removeSubrange(0..<entriesStart)
            entriesStart = 0
        }
        snapshot = SnapshotMetadata(index: index, term: t, confState: confState)
        snapshotData = data
        // The host applied (so persisted) everything up to here, maybe before calling advance.
        precondition(index <= persisting, "compacting entries the host was never given")
        stable = max(stable, index)
        applied = max(applied, index)
        checkInvariants()
    }

    // MARK: Ready bookkeeping

    var hasUnhandedEntries: Bool { persisting < lastIndex }
    var hasUnhandedCommitted: Bool { applying < committed }

    /// Hands the unstable entries to the host.
    func takeUnstableEntries() -> [Entry] {
        let lo = persisting.advanced(by: 1)
        let hi = lastIndex.advanced(by: 1)
        if lo >= hi { return [] }
        persisting = lastIndex
        let result = slice(lo, hi)
        cache(result, lo: lo)
        return result
    }

    func takeUnstableSnapshot() -> Snapshot? {
        defer { unstableSnapshot = nil }
        return unstableSnapshot
    }

    /// Hands committed entries to the host for applying.
    func takeCommitted() -> [Entry] {
        let lo = applying.advanced(by: 1)
        let hi = committed.advanced(by: 1)
        if lo >= hi { return [] }
        applying = committed
        return slice(lo, hi)
    }

    /// The host persisted entries up to (`index`, `term`). Ignored if that entry was replaced since.
    func stableTo(_ index: LogIndex, _ term: Term) {
        guard index > stable, index <= persisting, matchTerm(index, term) else { return }
        stable = index
    }

    func appliedTo(_ index: LogIndex) {
        guard index > applied else { return }
        precondition(index <= applying, "applied entries that were never handed out")
        applied = index
    }

    /// Whether a committed configuration change has not been applied yet (then this node must not
    /// campaign: it might not know its own configuration, etcd's rule).
    var hasUnappliedConfChange: Bool {
        var i = max(applied, snapshot.index).advanced(by: 1)
        while i <= committed {
            if entries[position(i)].kind == .confChange { return true }
            i = i.advanced(by: 1)
        }
        return false
    }
}
