import Raft
import RaftSimulation
import XCTest

/// The invariant checkers must fire on a broken history, or the simulator's silence proves nothing.
final class CheckerTests: XCTestCase {
    private func log(_ terms: [UInt64]) -> (LogIndex) -> Term? {
        { i in
            let k = Int(i.rawValue)
            return k >= 1 && k <= terms.count ? Term(terms[k - 1]) : nil
        }
    }

    private func entry(_ index: UInt64, _ term: UInt64, _ data: [UInt8] = []) -> Entry {
        Entry(term: Term(term), index: LogIndex(index), data: data)
    }

    func testElectionSafetyCatchesTwoLeadersInOneTerm() {
        var checker = SafetyChecker()
        checker.observeLeader(NodeID(1), term: Term(2), lastIndex: LogIndex(1), snapshotIndex: .zero, termAt: log([2]))
        XCTAssertEqual(checker.violations, [])
        checker.observeLeader(NodeID(2), term: Term(2), lastIndex: LogIndex(1), snapshotIndex: .zero, termAt: log([2]))
        XCTAssertEqual(checker.violations.map(\.code), [.electionSafety])
    }

    func testElectionSafetyAllowsOneLeaderPerTerm() {
        var checker = SafetyChecker()
        checker.observeLeader(NodeID(1), term: Term(2), lastIndex: LogIndex(1), snapshotIndex: .zero, termAt: log([2]))
        checker.observeLeader(NodeID(2), term: Term(3), lastIndex: LogIndex(2), snapshotIndex: .zero, termAt: log([2, 3]))
        checker.observeLeader(NodeID(1), term: Term(2), lastIndex: LogIndex(1), snapshotIndex: .zero, termAt: log([2]))
        XCTAssertEqual(checker.violations, [])
    }

    func testLeaderAppendOnlyCatchesARewrittenEntry() {
        var checker = SafetyChecker()
        checker.observeLeader(NodeID(1), term: Term(3), lastIndex: LogIndex(2), snapshotIndex: .zero, termAt: log([1, 3]))
        checker.observeLeader(NodeID(1), term: Term(3), lastIndex: LogIndex(3), snapshotIndex: .zero, termAt: log([1, 2, 3]))
        XCTAssertEqual(checker.violations.map(\.code), [.leaderAppendOnly])
    }

    func testLeaderAppendOnlyCatchesAShrunkLog() {
        var checker = SafetyChecker()
        checker.observeLeader(NodeID(1), term: Term(3), lastIndex: LogIndex(3), snapshotIndex: .zero, termAt: log([1, 3, 3]))
        checker.observeLeader(NodeID(1), term: Term(3), lastIndex: LogIndex(2), snapshotIndex: .zero, termAt: log([1, 3]))
        XCTAssertEqual(checker.violations.map(\.code), [.leaderAppendOnly])
    }

    func testLogMatchingCatchesDifferentEntriesWithOneIndexAndTerm() {
        var checker = SafetyChecker()
        checker.observePersisted(NodeID(1), entry: entry(5, 2, [1]), prevTerm: Term(2))
        checker.observePersisted(NodeID(2), entry: entry(5, 2, [1]), prevTerm: Term(2))
        XCTAssertEqual(checker.violations, [])
        checker.observePersisted(NodeID(3), entry: entry(5, 2, [9]), prevTerm: Term(2))
        XCTAssertEqual(checker.violations.map(\.code), [.logMatching])
    }

    func testLogMatchingCatchesDifferentPrefixes() {
        var checker = SafetyChecker()
        checker.observePersisted(NodeID(1), entry: entry(5, 3), prevTerm: Term(2))
        checker.observePersisted(NodeID(2), entry: entry(5, 3), prevTerm: Term(1))
        XCTAssertEqual(checker.violations.map(\.code), [.logMatching])
    }

    func testLeaderCompletenessCatchesALeaderMissingACommittedEntry() {
        var checker = SafetyChecker()
        // Node 1 commits index 3 (term 2) while in term 2.
        checker.observeCommit(NodeID(1), incarnation: 1, currentTerm: Term(2), commit: LogIndex(3), termAt: log([1, 2, 2]))
        // Node 2 becomes leader of term 3 with a log that has term 1 at index 3.
        checker.observeLeader(NodeID(2), term: Term(3), lastIndex: LogIndex(3), snapshotIndex: .zero, termAt: log([1, 2, 1]))
        XCTAssertEqual(checker.violations.map(\.code), [.leaderCompleteness])
    }

    func testLeaderCompletenessIgnoresEntriesCoveredByTheLeadersSnapshot() {
        var checker = SafetyChecker()
        checker.observeCommit(NodeID(1), incarnation: 1, currentTerm: Term(2), commit: LogIndex(3), termAt: log([1, 2, 2]))
        let compacted: (LogIndex) -> Term? = { $0 == LogIndex(3) ? Term(2) : ($0 == LogIndex(4) ? Term(3) : nil) }
        checker.observeLeader(NodeID(2), term: Term(3), lastIndex: LogIndex(4), snapshotIndex: LogIndex(3), termAt: compacted)
        XCTAssertEqual(checker.violations, [])
    }

    func testStateMachineSafetyCatchesDifferentEntriesAppliedAtOneIndex() {
        var checker = SafetyChecker()
        checker.observeApplied(NodeID(1), incarnation: 1, entry: entry(2, 1, [7]), previous: LogIndex(1))
        checker.observeApplied(NodeID(2), incarnation: 1, entry: entry(2, 1, [7]), previous: LogIndex(1))
        XCTAssertEqual(checker.violations, [])
        checker.observeApplied(NodeID(3), incarnation: 1, entry: entry(2, 2, [8]), previous: LogIndex(1))
        XCTAssertEqual(checker.violations.map(\.code), [.stateMachineSafety])
    }

    func testMonotonicCommitCatchesACommitGoingBackInOneIncarnation() {
        var checker = SafetyChecker()
        let terms = log([1, 1, 1, 1, 1])
        checker.observeCommit(NodeID(1), incarnation: 1, currentTerm: Term(1), commit: LogIndex(5), termAt: terms)
        // A restart may legitimately come back with an older durable commit index.
        checker.observeCommit(NodeID(1), incarnation: 2, currentTerm: Term(1), commit: LogIndex(3), termAt: terms)
        XCTAssertEqual(checker.violations, [])
        checker.observeCommit(NodeID(1), incarnation: 2, currentTerm: Term(1), commit: LogIndex(2), termAt: terms)
        XCTAssertEqual(checker.violations.map(\.code), [.monotonicCommit])
    }

    func testMonotonicAppliedCatchesAnEntryAppliedTwice() {
        var checker = SafetyChecker()
        checker.observeApplied(NodeID(1), incarnation: 1, entry: entry(2, 1), previous: LogIndex(1))
        checker.observeApplied(NodeID(1), incarnation: 1, entry: entry(2, 1), previous: LogIndex(2))
        XCTAssertEqual(checker.violations.first?.code, .monotonicApplied)
    }

    func testReadCheckerCatchesAStaleRead() {
        var checker = ReadChecker()
        checker.writeAcknowledged(value: 1, index: LogIndex(4))
        let required = checker.readBegins()
        XCTAssertEqual(required, LogIndex(4))
        checker.readServed(id: 1, node: NodeID(2), required: required, servedIndex: LogIndex(4))
        XCTAssertEqual(checker.violations, [])
        checker.readServed(id: 2, node: NodeID(3), required: required, servedIndex: LogIndex(3))
        XCTAssertEqual(checker.violations.map(\.code), [.staleRead])
    }

    func testReadCheckerOnlyRequiresWritesAcknowledgedBeforeTheReadBegan() {
        var checker = ReadChecker()
        checker.writeAcknowledged(value: 1, index: LogIndex(2))
        let required = checker.readBegins()
        checker.writeAcknowledged(value: 2, index: LogIndex(9))
        checker.readServed(id: 1, node: NodeID(1), required: required, servedIndex: LogIndex(2))
        XCTAssertEqual(checker.violations, [])
    }
}
