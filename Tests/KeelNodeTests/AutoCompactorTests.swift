import XCTest

@testable import KeelNode

/// etcd 3.4's auto-compaction schedules, driven by a clock the test moves.
final class AutoCompactorTests: XCTestCase {
    /// Polls every second from `from` to `to` (seconds), with the revision growing by one per
    /// second; returns the compactions named, as (second, revision), each reported done.
    private func run(
        _ compactor: inout AutoCompactor, from: Int, to: Int, isLeader: (Int) -> Bool = { _ in true }
    ) -> [(Int, Int64)] {
        var named: [(Int, Int64)] = []
        for second in from...to {
            let now = Duration.seconds(second)
            if let target = compactor.poll(now: now, revision: Int64(second) + 1, isLeader: isLeader(second)) {
                named.append((second, target))
                compactor.finished(revision: target, succeeded: true, now: now)
            }
        }
        return named
    }

    /// Periodic, 10 minutes: samples every minute; the first compaction comes a whole retention
    /// after the start, to the revision of then; later ones every retention, each to the revision
    /// one retention before.
    func testPeriodicCompactsToTheRevisionOfOneRetentionAgo() {
        var compactor = AutoCompactor(policy: .periodic(retention: .seconds(600)))
        let named = run(&compactor, from: 0, to: 1800)
        XCTAssertEqual(named.map(\.0), [600, 1200, 1800])
        for (second, revision) in named {
            // The oldest sample kept is at most one sampling interval younger than a retention.
            XCTAssertLessThanOrEqual(Int(revision) - 1, second - 600 + 60, "at \(second) s")
            XCTAssertGreaterThanOrEqual(Int(revision) - 1, second - 600, "at \(second) s: keeps less than the retention")
        }
    }

    /// Over an hour of retention, etcd still compacts every hour (sampling every 6 minutes).
    func testPeriodicRetentionOverAnHourCompactsHourly() {
        var compactor = AutoCompactor(policy: .periodic(retention: .seconds(3 * 3600)))
        let named = run(&compactor, from: 0, to: 5 * 3600)
        XCTAssertEqual(named.map(\.0), [3 * 3600, 4 * 3600, 5 * 3600])
        for (second, revision) in named {
            XCTAssertGreaterThanOrEqual(Int(revision) - 1, second - 3 * 3600, "at \(second) s: keeps less than the retention")
        }
    }

    /// Revision mode: every 5 minutes, to the current revision less the retention; never the same
    /// target twice, never below 1.
    func testRevisionModeKeepsTheLastRevisions() {
        var compactor = AutoCompactor(policy: .revisions(retention: 1000))
        let named = run(&compactor, from: 0, to: 1500)
        XCTAssertEqual(named.map(\.0), [300, 600, 900, 1200, 1500].filter { $0 + 1 - 1000 > 0 })
        for (second, revision) in named { XCTAssertEqual(revision, Int64(second) + 1 - 1000) }
    }

    /// Only a leader compacts; a follower keeps sampling, so a new leader compacts at once to the
    /// revision of one retention ago.
    func testOnlyTheLeaderNamesCompactions() {
        var compactor = AutoCompactor(policy: .periodic(retention: .seconds(600)))
        let named = run(&compactor, from: 0, to: 1500) { $0 >= 1000 }
        XCTAssertEqual(named.first?.0, 1020, "the first poll after becoming leader")
        XCTAssertTrue(named.allSatisfy { $0.0 >= 1000 })
        var follower = AutoCompactor(policy: .revisions(retention: 10))
        XCTAssertTrue(run(&follower, from: 0, to: 3000) { _ in false }.isEmpty)
    }

    /// A failed compaction is tried again at the next poll.
    func testFailureIsRetried() {
        var compactor = AutoCompactor(policy: .revisions(retention: 10))
        _ = compactor.poll(now: .zero, revision: 100, isLeader: true)
        let first = compactor.poll(now: .seconds(300), revision: 200, isLeader: true)
        XCTAssertEqual(first, 190)
        compactor.finished(revision: 190, succeeded: false, now: .seconds(300))
        XCTAssertEqual(compactor.poll(now: .seconds(600), revision: 200, isLeader: true), 190)
        compactor.finished(revision: 190, succeeded: true, now: .seconds(600))
        XCTAssertNil(compactor.poll(now: .seconds(900), revision: 200, isLeader: true), "the same target twice")
    }
}
