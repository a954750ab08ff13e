import XCTest

@testable import JepsenChecker

/// The watch checker on hand-made histories: a valid one, then each way a watcher or the store can
/// break the promise (a gap, a duplicate, a reordering, a phantom event, a lost acknowledged write),
/// each of which must be caught and named.
///
/// The store: revision 2 puts a=1, 3 puts b=2 and c=3 in one transaction, 4 deletes a, 5 puts b=4.
final class WatchCheckerTests: XCTestCase {
    /// The history events, as the final read returns them.
    private let log = [
        "[2 0 \"a\" :put \"1\" 2 1]", "[3 0 \"b\" :put \"2\" 3 1]", "[3 1 \"c\" :put \"3\" 3 1]",
        "[4 0 \"a\" :delete nil 0 0]", "[5 0 \"b\" :put \"4\" 3 2]",
    ]

    /// The writers' operations: each acknowledged with the revision the log has it at.
    private let writes: [(Int, String, String, String, Double)] = [
        (0, "invoke", "put", "[[\"a\" \"1\"]]", 0.0), (0, "ok", "put", "[2 [[\"a\" \"1\"]]]", 0.1),
        (1, "invoke", "put", "[[\"b\" \"2\"] [\"c\" \"3\"]]", 0.2), (1, "ok", "put", "[3 [[\"b\" \"2\"] [\"c\" \"3\"]]]", 0.3),
        (0, "invoke", "delete", "[\"a\"]", 0.4), (0, "ok", "delete", "[4 1]", 0.5),
        (1, "invoke", "put", "[[\"b\" \"4\"]]", 0.6), (1, "ok", "put", "[5 [[\"b\" \"4\"]]]", 0.7),
        (0, "invoke", "delete", "[\"zz\"]", 0.8), (0, "ok", "delete", "[5 0]", 0.9),
    ]

    /// Builds EDN: one line per `(process, type, f, value, seconds)`.
    private func edn(_ events: [(Int, String, String, String, Double)]) -> String {
        events.map { process, type, f, value, seconds in
            "{:process \(process) :type :\(type) :f :\(f) :value \(value) :time \(Int((seconds * 1e9).rounded()))}"
        }.joined(separator: "\n")
    }

    /// A watcher (process 100 + id) that opened streams at the given starts and received the given
    /// batches of log events (indexes into ``log``) on each.
    private func watcher(_ id: Int, streams: [(start: Int, batches: [[Int]])], time: Double = 1.0) -> [(Int, String, String, String, Double)] {
        var events: [(Int, String, String, String, Double)] = []
        for stream in streams {
            events.append((100 + id, "invoke", "watch", "[\(id) \(stream.start)]", time))
            events.append((100 + id, "ok", "watch", "[\(id) \(stream.start) 1]", time))
            for batch in stream.batches {
                events.append((100 + id, "invoke", "events", "[\(id)]", time))
                events.append((100 + id, "ok", "events", "[\(id) [\(batch.map { log[$0] }.joined(separator: " "))]]", time))
            }
        }
        return events
    }

    /// The final read of the log (or of `events`, when given), head 5.
    private func finalHistory(_ events: [String]? = nil) -> [(Int, String, String, String, Double)] {
        let events = events ?? log
        return [
            (900, "invoke", "history", "[\"w/\"]", 2.0), (900, "ok", "history", "[5 [\(events.joined(separator: " "))]]", 2.1),
        ]
    }

    private func checkWatch(_ events: [(Int, String, String, String, Double)]) throws -> WatchCheckResult {
        try WatchChecker.check(try history(edn(events)))
    }

    func testWatchersThatEachSeeAContiguousSliceAreValid() throws {
        let result = try checkWatch(
            writes
                + watcher(1, streams: [(start: 1, batches: [[0], [1, 2], [3, 4]])])
                // Resumed after revision 3 on another stream, at revision 4.
                + watcher(2, streams: [(start: 1, batches: [[0], [1, 2]]), (start: 4, batches: [[3], [4]])])
                // A live watcher (start 0) that began after revision 2 and stopped early.
                + watcher(3, streams: [(start: 0, batches: [[1, 2], [3]])])
                + finalHistory())
        XCTAssertEqual(result.verdict, .valid, result.summary)
        XCTAssertEqual(result.watchers, 3)
        XCTAssertEqual(result.resumptions, 1)
        XCTAssertEqual(result.eventsChecked, 5 + 5 + 3)
        XCTAssertEqual(result.acknowledgedWrites, 5)
        XCTAssertEqual(result.historyEvents, 5)
    }

    func testAWatcherThatSkipsAnEventIsCaughtAsAGap() throws {
        // The resumed stream starts at revision 4 but the server skipped the delete.
        let result = try checkWatch(
            writes + watcher(1, streams: [(start: 1, batches: [[0], [1, 2]]), (start: 4, batches: [[4]])]) + finalHistory())
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertEqual(result.violations.map(\.kind), [.gap])
        XCTAssertEqual(result.violations.first?.watcher, 1)
        XCTAssertTrue(result.summary.contains("r4.0 delete a"), result.summary)
    }

    func testAWatcherThatMissesTheSecondEventOfARevisionIsCaught() throws {
        let result = try checkWatch(writes + watcher(1, streams: [(start: 1, batches: [[0], [1], [3]])]) + finalHistory())
        XCTAssertEqual(result.violations.map(\.kind), [.gap])
    }

    func testAResumptionThatRepeatsAnEventIsCaughtAsADuplicate() throws {
        // Resumed at revision 3 instead of 4: revision 3 comes again.
        let result = try checkWatch(
            writes + watcher(1, streams: [(start: 1, batches: [[0], [1, 2]]), (start: 3, batches: [[1, 2], [3]])]) + finalHistory())
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertEqual(result.violations.map(\.kind), [.duplicate])
    }

    func testEventsOutOfTheHistorysOrderAreCaughtAsAReordering() throws {
        let result = try checkWatch(writes + watcher(1, streams: [(start: 1, batches: [[0], [3], [1, 2]])]) + finalHistory())
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertEqual(result.violations.map(\.kind), [.reordered])
    }

    func testAnEventThatIsNotInTheHistoryIsCaughtAsAPhantom() throws {
        var events = writes + watcher(1, streams: [(start: 1, batches: [[0]])])
        events.append((101, "invoke", "events", "[1]", 1.0))
        events.append((101, "ok", "events", "[1 [[3 0 \"b\" :put \"99\" 3 1]]]", 1.0))
        let result = try checkWatch(events + finalHistory())
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertEqual(result.violations.map(\.kind), [.phantom])
        XCTAssertTrue(result.summary.contains("differs from the history"), result.summary)
    }

    func testAnAcknowledgedWriteMissingFromTheHistoryIsCaught() throws {
        // The history lost the put of b=4 at revision 5 (the head is still 5).
        let result = try checkWatch(writes + watcher(1, streams: [(start: 1, batches: [[0], [1, 2]])]) + finalHistory(Array(log.prefix(4))))
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertTrue(result.violations.map(\.kind).contains(.lostWrite), result.summary)
        XCTAssertTrue(result.summary.contains("acknowledged put of b=4 at revision 5"), result.summary)
    }

    func testAWriteAcknowledgedAtAnotherRevisionThanTheHistorysIsCaught() throws {
        var events = writes
        events[7] = (1, "ok", "put", "[6 [[\"b\" \"4\"]]]", 0.7)
        let result = try checkWatch(events + finalHistory())
        XCTAssertTrue(result.violations.map(\.kind).contains(.lostWrite), result.summary)
    }

    func testAHistoryEventThatNoWriteMadeIsCaught() throws {
        let result = try checkWatch(writes + finalHistory(log + ["[6 0 \"q\" :put \"7\" 6 1]"]).map { event in
            (event.0, event.1, event.2, event.3.replacingOccurrences(of: "[5 [", with: "[6 ["), event.4)
        })
        XCTAssertEqual(result.violations.map(\.kind), [.unexpectedEvent], result.summary)
    }

    func testAnEventDeliveredBeforeTheRequestedStartIsCaught() throws {
        let result = try checkWatch(writes + watcher(1, streams: [(start: 4, batches: [[1, 2]])]) + finalHistory())
        XCTAssertEqual(result.violations.map(\.kind), [.beforeStart])
    }

    func testAFirstStreamFromRevisionOneThatBeginsLaterIsAGap() throws {
        let result = try checkWatch(writes + watcher(1, streams: [(start: 1, batches: [[1, 2]])]) + finalHistory())
        XCTAssertEqual(result.violations.map(\.kind), [.gap])
    }

    func testACompactedAnswerWhenNothingWasCompactedIsCaught() throws {
        var events = writes + watcher(1, streams: [(start: 1, batches: [[0]])])
        events += [(101, "invoke", "compacted", "[1]", 1.5), (101, "ok", "compacted", "[1 3]", 1.5)]
        let result = try checkWatch(events + finalHistory())
        XCTAssertEqual(result.violations.map(\.kind), [.falseCompaction])
        XCTAssertEqual(result.compactedWatchers, 1)
    }

    func testAWatcherStuckAfterTheHealIsCaught() throws {
        var events = writes + watcher(1, streams: [(start: 1, batches: [[0]])])
        events += [(101, "invoke", "watch-end", "[1]", 1.5), (101, "ok", "watch-end", "[1 \"timeout\" 2]", 1.5)]
        XCTAssertEqual(try checkWatch(events + finalHistory()).violations.map(\.kind), [.stalled])
    }

    func testRevisionsAgainstRealTimeAreChecked() throws {
        // b=4 was invoked after the delete at revision 4 was acknowledged, yet claims revision 3.
        var events = writes
        events[7] = (1, "ok", "put", "[3 [[\"b\" \"4\"]]]", 0.7)
        XCTAssertTrue(try checkWatch(events + finalHistory()).violations.map(\.kind).contains(.realTime))
    }

    func testAHistoryWithAHoleOrAContradictionIsInconsistent() throws {
        var broken = log
        broken[4] = "[5 0 \"b\" :put \"4\" 5 1]"  // b existed (created at 3), so version 2 at create 3
        XCTAssertTrue(try checkWatch(writes + finalHistory(broken)).violations.map(\.kind).contains(.historyInconsistent))
    }

    func testNoFinalHistoryIsUnknown() throws {
        let result = try checkWatch(writes + watcher(1, streams: [(start: 1, batches: [[0]])]))
        XCTAssertEqual(result.verdict, .unknown)
    }

    func testAMalformedEventIsRefusedWithItsLine() throws {
        let error = expectHistoryError {
            _ = try self.checkWatch(writes + [(101, "invoke", "watch", "[1 1]", 1.0), (101, "ok", "watch", "[1 1 1]", 1.0),
                (101, "invoke", "events", "[1]", 1.0), (101, "ok", "events", "[1 [[2 0 \"a\"]]]", 1.0)])
        }
        XCTAssertEqual(error?.code, .badModelInput)
        XCTAssertEqual(error?.line, writes.count + 3, "the line of the :events invocation")
    }
}
