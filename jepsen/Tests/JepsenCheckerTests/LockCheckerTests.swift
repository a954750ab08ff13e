import XCTest

@testable import JepsenChecker

/// The lock checker on hand-made histories. Client 1 holds `jl/a` (token 2) and writes `jf/1/0`;
/// client 2 waits with `jl/b` (token 4), is granted once `jl/a` is gone, and writes `jf/2/0`.
final class LockCheckerTests: XCTestCase {
    /// The store's changes, by revision.
    private let handOver = [
        "[2 0 \"jl/a\" :put \"\" 2 1]", "[3 0 \"jf/1/0\" :put \"2\" 3 1]", "[4 0 \"jl/b\" :put \"\" 4 1]",
        "[5 0 \"jl/a\" :delete nil 0 0]", "[6 0 \"jf/2/0\" :put \"4\" 6 1]", "[7 0 \"jl/b\" :delete nil 0 0]",
    ]

    private let clients: [(Int, String, String, String, Double)] = [
        (1, "invoke", "acquire", "[1 10]", 0.0), (1, "ok", "acquire", "[1 10 \"jl/a\" 2 2]", 0.1),
        (1, "invoke", "write", "[1 2 \"jf/1/0\"]", 0.2), (1, "ok", "write", "[1 2 3 true]", 0.3),
        (2, "invoke", "acquire", "[2 11]", 0.25),
        (1, "invoke", "release", "[1 \"jl/a\"]", 0.4), (1, "ok", "release", "[1]", 0.5),
        (2, "ok", "acquire", "[2 11 \"jl/b\" 4 5]", 0.6),
        (2, "invoke", "write", "[2 4 \"jf/2/0\"]", 0.7), (2, "ok", "write", "[2 4 6 true]", 0.8),
        (2, "invoke", "release", "[2 \"jl/b\"]", 0.9), (2, "ok", "release", "[2]", 1.0),
    ]

    private func edn(_ events: [(Int, String, String, String, Double)]) -> String {
        events.map { process, type, f, value, seconds in
            "{:process \(process) :type :\(type) :f :\(f) :value \(value) :time \(Int((seconds * 1e9).rounded()))}"
        }.joined(separator: "\n")
    }

    private func checkLock(_ events: [(Int, String, String, String, Double)], log: [String]) throws -> LockCheckResult {
        let head = log.compactMap { KVEvent(try! EDNReader.parse($0))?.revision }.max() ?? 1
        let final: [(Int, String, String, String, Double)] = [
            (900, "invoke", "history", "[\"\"]", 2.0), (900, "ok", "history", "[\(head) [\(log.joined(separator: " "))]]", 2.1),
        ]
        return try LockChecker.check(try history(edn(events + final)))
    }

    func testAHandOverWithFencedWritesInTokenOrderIsValid() throws {
        let result = try checkLock(clients, log: handOver)
        XCTAssertEqual(result.verdict, .valid, result.summary)
        XCTAssertEqual(result.grants, 2)
        XCTAssertEqual(result.writesAccepted, 2)
        XCTAssertEqual(result.fencedWritesInHistory, 2)
        XCTAssertEqual(result.tokensUsed, 2)
        XCTAssertEqual(result.overlappingGrants, 0)
    }

    func testAPausedHolderWhoseWriteTheFenceRefusesIsValidAndItsOverlapIsInformation() throws {
        // Client 1 stops renewing; its lease expires (jl/a deleted at 5), client 2 is granted, and
        // client 1, still believing it holds the lock, writes: the fence refuses it.
        var events = Array(clients.prefix(5))
        events += [
            (1, "invoke", "stop-renewing", "[1 10 5]", 0.3), (1, "ok", "stop-renewing", "[1 10 5]", 0.3),
            (2, "ok", "acquire", "[2 11 \"jl/b\" 4 5]", 0.6),
            (1, "invoke", "write", "[1 2 \"jf/1/1\"]", 0.65), (1, "ok", "write", "[1 2 6 false]", 0.66),
            (2, "invoke", "write", "[2 4 \"jf/2/0\"]", 0.7), (2, "ok", "write", "[2 4 6 true]", 0.8),
            (1, "invoke", "release", "[1 \"jl/a\"]", 0.85), (1, "ok", "release", "[1]", 0.86),
            (2, "invoke", "release", "[2 \"jl/b\"]", 0.9), (2, "ok", "release", "[2]", 1.0),
        ]
        let result = try checkLock(events, log: handOver)
        XCTAssertEqual(result.verdict, .valid, result.summary)
        XCTAssertEqual(result.writesRefused, 1)
        XCTAssertEqual(result.renewalStops, 1)
        XCTAssertEqual(result.overlappingGrants, 2, "client 1's hold runs on into client 2's")
    }

    func testAFencedWriteAppliedAfterItsHoldKeyWasGoneIsCaught() throws {
        // The store let client 1's late write through at revision 6, after jl/a was deleted at 5.
        var events = Array(clients.prefix(5))
        events += [
            (1, "invoke", "write", "[1 2 \"jf/1/1\"]", 0.65), (1, "ok", "write", "[1 2 6 true]", 0.66),
            (2, "ok", "acquire", "[2 11 \"jl/b\" 4 5]", 0.67),
        ]
        var log = Array(handOver.prefix(4))
        log.append("[6 0 \"jf/1/1\" :put \"2\" 6 1]")
        let result = try checkLock(events, log: log)
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertEqual(result.violations.map(\.kind), [.writeWithoutHold], result.summary)
    }

    func testAWriteWithALowerTokenAfterAHigherOneIsCaught() throws {
        var log = handOver
        log.append("[8 0 \"jf/1/1\" :put \"2\" 8 1]")
        let events = clients + [(1, "invoke", "write", "[1 2 \"jf/1/1\"]", 1.1), (1, "info", "write", "[1 2 \"jf/1/1\"]", 1.2)]
        let result = try checkLock(events, log: log)
        XCTAssertEqual(Set(result.violations.map(\.kind)), [.writeWithoutHold, .tokenRegressed], result.summary)
    }

    func testAWriteWhileAnOlderHoldStillOwnsTheLockIsCaught() throws {
        // jl/b was treated as the owner while jl/a still existed.
        let log = [
            "[2 0 \"jl/a\" :put \"\" 2 1]", "[3 0 \"jl/b\" :put \"\" 3 1]", "[4 0 \"jf/2/0\" :put \"3\" 4 1]",
            "[5 0 \"jl/a\" :delete nil 0 0]",
        ]
        let events: [(Int, String, String, String, Double)] = [
            (1, "invoke", "acquire", "[1 10]", 0.0), (1, "ok", "acquire", "[1 10 \"jl/a\" 2 2]", 0.1),
            (2, "invoke", "acquire", "[2 11]", 0.2), (2, "ok", "acquire", "[2 11 \"jl/b\" 3 3]", 0.3),
            (2, "invoke", "write", "[2 3 \"jf/2/0\"]", 0.4), (2, "ok", "write", "[2 3 4 true]", 0.5),
        ]
        let result = try checkLock(events, log: log)
        XCTAssertEqual(Set(result.violations.map(\.kind)), [.writeByNonOwner, .grantedWithoutHold], result.summary)
    }

    func testAGrantToAHolderWhoseKeyExpiredWhileWaitingIsCaught() throws {
        // jl/b's lease expired while it waited (deleted at 5, with jl/a); Lock still answered at 5.
        let log = [
            "[2 0 \"jl/a\" :put \"\" 2 1]", "[3 0 \"jl/b\" :put \"\" 3 1]", "[4 0 \"jl/a\" :delete nil 0 0]",
            "[5 0 \"jl/b\" :delete nil 0 0]", "[6 0 \"jf/1/0\" :put \"9\" 6 1]", "[7 0 \"jl/c\" :put \"\" 7 1]",
            "[8 0 \"jf/3/0\" :put \"7\" 8 1]",
        ]
        let events: [(Int, String, String, String, Double)] = [
            (1, "invoke", "acquire", "[1 10]", 0.0), (1, "ok", "acquire", "[1 10 \"jl/a\" 2 2]", 0.1),
            (2, "invoke", "acquire", "[2 11]", 0.2), (2, "ok", "acquire", "[2 11 \"jl/b\" nil 5]", 0.6),
            (3, "invoke", "acquire", "[3 12]", 0.7), (3, "ok", "acquire", "[3 12 \"jl/c\" 7 7]", 0.8),
            (3, "invoke", "write", "[3 7 \"jf/3/0\"]", 0.9), (3, "ok", "write", "[3 7 8 true]", 1.0),
        ]
        let result = try checkLock(events, log: log)
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertTrue(result.violations.map(\.kind).contains(.grantedWithoutHold), result.summary)
        XCTAssertEqual(result.grantsGoneAtOnce, 1)
        // jf/1/0 was written by nobody.
        XCTAssertTrue(result.violations.map(\.kind).contains(.unexpectedWrite), result.summary)
    }

    func testAcknowledgementsThatDisagreeWithTheHistoryAreCaught() throws {
        var events = clients
        events[3] = (1, "ok", "write", "[1 2 3 false]", 0.3)
        XCTAssertEqual(try checkLock(events, log: handOver).violations.map(\.kind), [.refusedWriteApplied])
        var lost = handOver
        lost[4] = "[6 0 \"jl/z\" :put \"\" 6 1]"
        lost[5] = "[7 0 \"jl/z\" :delete nil 0 0]"
        XCTAssertEqual(try checkLock(clients, log: lost).violations.map(\.kind), [.lostFencedWrite])
    }

    func testALockRefusedBecauseTheLeaseExpiredWhileWaitingIsCounted() throws {
        var text = edn(clients + [(3, "invoke", "acquire", "[3 12]", 0.3)])
        text += "\n{:process 3 :type :info :f :acquire :value [3 12] :time 900000000 :error \"failedPrecondition: mutex: session is expired\"}"
        text += "\n{:process 900 :type :invoke :f :history :value [\"\"] :time 2000000000}"
        text += "\n{:process 900 :type :ok :f :history :value [7 [\(handOver.joined(separator: " "))]] :time 2100000000}"
        let result = try LockChecker.check(try history(text))
        XCTAssertEqual(result.verdict, .valid, result.summary)
        XCTAssertEqual(result.acquiresRefusedAsExpired, 1)
        XCTAssertEqual(result.acquiresUnknown, 1)
    }

    func testNoAppliedWriteIsUnknown() throws {
        let events = Array(clients.prefix(2))
        XCTAssertEqual(try checkLock(events, log: Array(handOver.prefix(1))).verdict, .unknown)
    }
}
