// Figure 3's safety properties, checked incrementally from observations the simulation feeds in
// after every step. Each check is O(1) per observation (leader completeness: O(committed) per new
// leader), so they can run after every step even in a debug build. The checker knows nothing of
// the simulation: tests feed it bad histories to prove each check fires.

import Raft

/// Checks election safety, leader append-only, log matching, leader completeness, state machine
/// safety and monotonic commit/applied over a whole history.
public struct SafetyChecker {
    /// Every violation found, oldest first.
    public private(set) var violations: [Violation] = []

    private var leaderOfTerm: [Term: NodeID] = [:]
    /// The last time each node was seen leading: term, last index and the term there.
    private var lastLeaderView: [NodeID: (term: Term, lastIndex: LogIndex, lastTerm: Term)] = [:]
    /// For each (index, term) ever persisted: the data and the term of the entry before it.
    private var entryIdentity: [EntryKey: (data: [UInt8], kind: EntryKind, prevTerm: Term?)] = [:]
    /// Committed entries by index: their term and the lowest term any observer had when it saw
    /// the commit (a bound on the term in which the entry was committed).
    private var committed: [(term: Term, commitTerm: Term)?] = []
    private var appliedAt: [Entry?] = []
    private var lastCommit: [NodeID: (incarnation: Int, commit: LogIndex)] = [:]
    private var lastApplied: [NodeID: (incarnation: Int, applied: LogIndex)] = [:]

    private struct EntryKey: Hashable {
        var index: LogIndex
        var term: Term
    }

    /// A checker with no history.
    public init() {}

    private mutating func fail(_ code: Violation.Code, _ message: String) {
        violations.append(Violation(code, message))
    }

    /// Observes `node` leading `term` with the given log tail. `termAt` answers the node's log
    /// (nil when compacted or beyond its end). Checks election safety, append-only and, the first
    /// time this leader is seen, leader completeness.
    public mutating func observeLeader(
        _ node: NodeID, term: Term, lastIndex: LogIndex, snapshotIndex: LogIndex, termAt: (LogIndex) -> Term?
    ) {
        if let other = leaderOfTerm[term], other != node {
            fail(.electionSafety, "\(other) and \(node) both led term \(term)")
            return
        }
        let lastTerm = termAt(lastIndex) ?? .zero
        if let seen = lastLeaderView[node], seen.term == term {
            if lastIndex < seen.lastIndex {
                fail(.leaderAppendOnly, "leader \(node) of term \(term) shrank its log from \(seen.lastIndex) to \(lastIndex)")
            } else if let t = termAt(seen.lastIndex), t != seen.lastTerm {
                fail(.leaderAppendOnly, "leader \(node) of term \(term) rewrote index \(seen.lastIndex) (term \(seen.lastTerm) -> \(t))")
            }
        } else {
            leaderOfTerm[term] = node
            checkCompleteness(node, term: term, lastIndex: lastIndex, snapshotIndex: snapshotIndex, termAt: termAt)
        }
        lastLeaderView[node] = (term, lastIndex, lastTerm)
    }

    /// Leader completeness: every entry committed in a term before `term` is in the new leader's log.
    private mutating func checkCompleteness(
        _ node: NodeID, term: Term, lastIndex: LogIndex, snapshotIndex: LogIndex, termAt: (LogIndex) -> Term?
    ) {
        for (i, record) in committed.enumerated() {
            guard let record, record.commitTerm < term else { continue }
            let index = LogIndex(UInt64(i))
            if index <= snapshotIndex { continue }
            let have = index <= lastIndex ? termAt(index) : nil
            if have != record.term {
                let found = have.map { "term \($0)" } ?? "nothing"
                fail(.leaderCompleteness, "leader \(node) of term \(term) has \(found) at \(index), committed with term \(record.term)")
                return
            }
        }
    }

    /// Observes `node` persisting `entry`, whose predecessor in its log has `prevTerm` (nil if unknown,
    /// for example compacted). Checks log matching: an (index, term) pair names one entry and one prefix.
    public mutating func observePersisted(_ node: NodeID, entry: Entry, prevTerm: Term?) {
        let key = EntryKey(index: entry.index, term: entry.term)
        if let known = entryIdentity[key] {
            if known.data != entry.data || known.kind != entry.kind {
                fail(.logMatching, "\(node) holds a different entry at index \(entry.index) term \(entry.term)")
            } else if let p = prevTerm, let q = known.prevTerm, p != q {
                fail(.logMatching, "\(node) has term \(p) before index \(entry.index) term \(entry.term), another node has \(q)")
            } else if known.prevTerm == nil, let p = prevTerm {
                entryIdentity[key] = (known.data, known.kind, p)
            }
        } else {
            entryIdentity[key] = (entry.data, entry.kind, prevTerm)
        }
    }

    /// Observes `node` (in its `incarnation`, at `currentTerm`) with commit index `commit`.
    /// Checks monotonic commit and records newly committed entries for leader completeness.
    public mutating func observeCommit(
        _ node: NodeID, incarnation: Int, currentTerm: Term, commit: LogIndex, termAt: (LogIndex) -> Term?
    ) {
        if let last = lastCommit[node], last.incarnation == incarnation, commit < last.commit {
            fail(.monotonicCommit, "\(node) commit went back from \(last.commit) to \(commit)")
        }
        lastCommit[node] = (incarnation, commit)
        let c = Int(commit.rawValue)
        if committed.count <= c { committed.append(contentsOf: repeatElement(nil, count: c + 1 - committed.count)) }
        var i = c
        while i > 0 {
            let index = LogIndex(UInt64(i))
            guard let t = termAt(index) else { break }
            if let record = committed[i] {
                if record.term != t {
                    fail(.stateMachineSafety, "\(node) committed term \(t) at \(index), another node term \(record.term)")
                    return
                }
                if currentTerm < record.commitTerm { committed[i] = (t, currentTerm) } else { break }
            } else {
                committed[i] = (t, currentTerm)
            }
            i -= 1
        }
    }

    /// Observes `node` applying `entry` (its applied index before was `previous`). Checks state
    /// machine safety and monotonic applied.
    public mutating func observeApplied(_ node: NodeID, incarnation: Int, entry: Entry, previous: LogIndex) {
        if entry.index <= previous {
            fail(.monotonicApplied, "\(node) applied \(entry.index) after \(previous)")
        }
        if let last = lastApplied[node], last.incarnation == incarnation, entry.index <= last.applied {
            fail(.monotonicApplied, "\(node) applied \(entry.index) after \(last.applied)")
        }
        lastApplied[node] = (incarnation, entry.index)
        let i = Int(entry.index.rawValue)
        if appliedAt.count <= i { appliedAt.append(contentsOf: repeatElement(nil, count: i + 1 - appliedAt.count)) }
        if let other = appliedAt[i] {
            if other != entry {
                fail(.stateMachineSafety, "\(node) applied term \(entry.term) at \(entry.index), another node applied term \(other.term)")
            }
        } else {
            appliedAt[i] = entry
        }
    }

    /// Observes `node` installing a snapshot at `index` with `term`: it must agree with what was applied there.
    public mutating func observeSnapshot(_ node: NodeID, incarnation: Int, index: LogIndex, term: Term) {
        let i = Int(index.rawValue)
        if i < appliedAt.count, let other = appliedAt[i], other.term != term {
            fail(.stateMachineSafety, "\(node) installed a snapshot at \(index) term \(term), applied entry there has term \(other.term)")
        }
        lastApplied[node] = (incarnation, index)
    }
}
