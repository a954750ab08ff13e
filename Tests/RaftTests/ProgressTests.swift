import XCTest
@testable import Raft

/// Per-follower flow control: the inflight window and the probe / replicate / snapshot states.
final class ProgressTests: XCTestCase {
    /// The window holds at most `capacity` messages and frees them by acknowledged index.
    func testInflightWindowIsBoundedAndFreedByAck() {
        var window = Inflights(capacity: 3)
        window.add(LogIndex(5))
        window.add(LogIndex(8))
        window.add(LogIndex(10))
        XCTAssertTrue(window.isFull)
        window.freeLE(LogIndex(8))
        XCTAssertEqual(window.count, 1)
        window.add(LogIndex(12))
        window.add(LogIndex(14))
        XCTAssertTrue(window.isFull)
        window.freeLE(LogIndex(100))
        XCTAssertEqual(window.count, 0)
    }

    /// A progress in replicate state pauses when the window is full; in probe state after one message.
    func testPausedStates() {
        var p = Progress(next: LogIndex(5), inflightMessagesMax: 2, isLearner: false)
        XCTAssertFalse(p.isPaused)
        p.sentEntries(last: LogIndex(7))
        XCTAssertTrue(p.isPaused, "probe sends one message at a time")
        XCTAssertTrue(p.maybeUpdate(LogIndex(4)))
        p.becomeReplicate()
        p.sentEntries(last: LogIndex(6))
        XCTAssertFalse(p.isPaused)
        p.sentEntries(last: LogIndex(9))
        XCTAssertTrue(p.isPaused, "window of two is full")
        XCTAssertEqual(p.next, LogIndex(10))
        p.becomeSnapshot(LogIndex(20))
        XCTAssertTrue(p.isPaused)
    }

    /// §5.3 fast backtracking: a rejection moves next straight to the hint, never below match + 1,
    /// and stale rejections are ignored.
    func testMaybeDecrToUsesHintAndIgnoresStale() {
        var p = Progress(next: LogIndex(100), inflightMessagesMax: 4, isLearner: false)
        XCTAssertFalse(p.maybeDecrTo(rejected: LogIndex(50), matchHint: LogIndex(10)), "not the outstanding probe")
        XCTAssertTrue(p.maybeDecrTo(rejected: LogIndex(99), matchHint: LogIndex(10)))
        XCTAssertEqual(p.next, LogIndex(11))
        _ = p.maybeUpdate(LogIndex(10))
        p.becomeReplicate()
        XCTAssertFalse(p.maybeDecrTo(rejected: LogIndex(9), matchHint: LogIndex(0)), "already matched past it")
    }
}
