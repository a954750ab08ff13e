import XCTest

@testable import JepsenChecker

/// The lease checker on hand-made histories: each promise kept, each one broken, and the faults that
/// widen the bound (time without a leader, clock faults). Times are in seconds; lease 7 has TTL 3 s.
final class LeaseCheckerTests: XCTestCase {
    /// Builds EDN: one line per `(process, type, f, value, seconds)`.
    private func edn(_ events: [(Int, String, String, String, Double)]) -> String {
        events.map { process, type, f, value, seconds in
            "{:process \(process) :type :\(type) :f :\(f) :value \(value) :time \(Int((seconds * 1e9).rounded()))}"
        }.joined(separator: "\n")
    }

    private func checkLease(_ events: [(Int, String, String, String, Double)], bound: LeaseChecker.Bound = LeaseChecker.Bound())
        throws -> LeaseCheckResult
    {
        try LeaseChecker.check(try history(edn(events)), bound: bound)
    }

    /// Lease 7 (TTL 3) granted at 0, keys attached, renewed at 1.0.
    private let grantedAndRenewed: [(Int, String, String, String, Double)] = [
        (0, "invoke", "grant", "[7 3]", 0.00), (0, "ok", "grant", "[7 3]", 0.01),
        (0, "invoke", "put", "[7]", 0.02), (0, "ok", "put", "[7]", 0.03),
        (0, "invoke", "keepalive", "[7]", 1.00), (0, "ok", "keepalive", "[7 3]", 1.01),
        (1, "invoke", "read", "[7 nil]", 2.00), (1, "ok", "read", "[7 2]", 2.01),
    ]

    func testAKeyThatLivesItsTTLAndGoesWithinTheBoundIsValid() throws {
        let result = try checkLease(grantedAndRenewed + [(1, "invoke", "read", "[7 nil]", 4.50), (1, "ok", "read", "[7 0]", 4.60)])
        XCTAssertEqual(result.verdict, .valid, result.summary)
        XCTAssertEqual(result.expiriesSeen, 1)
        XCTAssertEqual(result.checkedAbsences, 1)
        XCTAssertEqual(try XCTUnwrap(result.expiryDelayMax), 4.60 - 1.01 - 3, accuracy: 1e-6)
        XCTAssertEqual(try XCTUnwrap(result.closestEarlyMargin), 4.60 - 1.00 - 3, accuracy: 1e-6)
    }

    func testAKeyGoneBeforeTheTTLSinceARenewalIsCaught() throws {
        let result = try checkLease(grantedAndRenewed + [(1, "invoke", "read", "[7 nil]", 3.40), (1, "ok", "read", "[7 0]", 3.50)])
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertEqual(result.violations.map(\.kind), [.early])
        XCTAssertEqual(result.violations.first?.causeOperationID, 2, "the keepalive it contradicts")
        XCTAssertTrue(result.summary.contains("vanished-while-kept-alive lease 7"), result.summary)
    }

    func testALeaseAnsweredNotFoundBeforeItsTTLIsCaught() throws {
        let result = try checkLease(
            grantedAndRenewed + [(0, "invoke", "keepalive", "[7]", 3.00), (0, "ok", "keepalive", "[7 0]", 3.10)])
        XCTAssertEqual(result.violations.map(\.kind), [.early])
    }

    func testAFastClockExcusesAnEarlyExpiryOnlyAsFarAsItCouldRun() throws {
        let early = grantedAndRenewed + [(1, "invoke", "read", "[7 nil]", 2.90), (1, "ok", "read", "[7 0]", 3.00)]
        var bound = LeaseChecker.Bound()
        // Two seconds at twice the speed from 1.0: the store's clock may have counted 2 + 2 = 4 s > 3 s.
        bound.clockFaults = [LeaseChecker.ClockFault(start: 0.5, end: 5, forwardSeconds: 0)]
        XCTAssertEqual(try checkLease(early, bound: bound).verdict, .valid)
        // A fault that ended before the renewal excuses nothing.
        bound.clockFaults = [LeaseChecker.ClockFault(start: 0.1, end: 0.9, forwardSeconds: 4)]
        XCTAssertEqual(try checkLease(early, bound: bound).violations.map(\.kind), [.early])
        // A forward step inside the window counts in full.
        bound.clockFaults = [LeaseChecker.ClockFault(start: 2.0, end: 2.1, forwardSeconds: 1.5)]
        XCTAssertEqual(try checkLease(early, bound: bound).verdict, .valid)
    }

    /// Lease 8 is renewed every 0.2 s from 1.1 s to 14 s: a leader was there all along. Its answers
    /// carry term 1, and term 2 from `newTermAt` on.
    private func busyLeader(newTermAt: Double = .infinity) -> [(Int, String, String, String, Double)] {
        var events: [(Int, String, String, String, Double)] = [(2, "invoke", "grant", "[8 3]", 1.05), (2, "ok", "grant", "[8 3]", 1.06)]
        for step in 0..<65 {
            let at = 1.1 + Double(step) * 0.2
            events += [(2, "invoke", "keepalive", "[8]", at), (2, "ok", "keepalive", "[8 3 \(at < newTermAt ? 1 : 2)]", at + 0.01)]
        }
        return events
    }

    private func readOfLease7(at seconds: Double, keys: Int, besides others: [(Int, String, String, String, Double)])
        -> [(Int, String, String, String, Double)]
    {
        (grantedAndRenewed + others + [(1, "invoke", "read", "[7 nil]", seconds), (1, "ok", "read", "[7 \(keys)]", seconds + 0.01)])
            .sorted { $0.4 < $1.4 }
    }

    func testAKeyStillThereLongAfterTheBoundIsCaughtWhileALeaderWasThere() throws {
        // One leader throughout: TTL 3 + election 1 + allowance 1 = 5 s after the renewal at 1.01.
        let result = try checkLease(readOfLease7(at: 6.50, keys: 2, besides: busyLeader()))
        XCTAssertEqual(result.violations.map(\.kind), [.late], result.summary)
        XCTAssertEqual(result.violations.first?.lease, 7)
        XCTAssertTrue(try checkLease(readOfLease7(at: 5.50, keys: 2, besides: busyLeader())).violations.isEmpty)
    }

    func testEachLeaderChangeAllowsACheckpointIntervalMore() throws {
        // A new term at 3 s: 5 s + a checkpoint interval (half the 3 s TTL, under 5 s) and an election
        // timeout (1 s) = 7.5 s after the renewal at 1.01.
        XCTAssertTrue(try checkLease(readOfLease7(at: 8.00, keys: 2, besides: busyLeader(newTermAt: 3))).violations.isEmpty)
        XCTAssertEqual(try checkLease(readOfLease7(at: 9.00, keys: 2, besides: busyLeader(newTermAt: 3))).violations.map(\.kind), [.late])
        // Without terms in the answers, one change is assumed.
        let untermed = busyLeader().map { event in (event.0, event.1, event.2, event.3.replacingOccurrences(of: " 1]", with: "]"), event.4) }
        XCTAssertTrue(try checkLease(readOfLease7(at: 8.00, keys: 2, besides: untermed)).violations.isEmpty)
        XCTAssertEqual(try checkLease(readOfLease7(at: 9.00, keys: 2, besides: untermed)).violations.map(\.kind), [.late])
    }

    func testTimeWithoutAnyAcknowledgedWriteDoesNotCountTowardsTheBound() throws {
        // The same late sighting, but nothing was acknowledged between the renewal and the read: the
        // cluster may have had no leader, and leases do not age then.
        let result = try checkLease(
            grantedAndRenewed + [
                (1, "invoke", "read", "[7 nil]", 12.00), (1, "ok", "read", "[7 2]", 12.01),
                (1, "invoke", "read", "[7 nil]", 12.50), (1, "ok", "read", "[7 0]", 12.60),
            ])
        XCTAssertEqual(result.verdict, .valid, result.summary)
        XCTAssertEqual(result.checkedPresences, 2, "the sightings at 2.0 and 12.0 were judged")
    }

    func testASlowClockExcusesALateExpiry() throws {
        var bound = LeaseChecker.Bound()
        bound.clockFaults = [LeaseChecker.ClockFault(start: 1.5, end: 13, forwardSeconds: 0)]
        // 5.5 s of the 6.5 at half speed: 3.75 s counted, under the 5 s bound.
        XCTAssertTrue(try checkLease(readOfLease7(at: 7.50, keys: 2, besides: busyLeader()), bound: bound).violations.isEmpty)
        XCTAssertEqual(try checkLease(readOfLease7(at: 7.50, keys: 2, besides: busyLeader())).violations.map(\.kind), [.late])
        // Bumps alone slow nothing.
        bound.clockFaults = [LeaseChecker.ClockFault(start: 1.5, end: 13, forwardSeconds: 3, changesRates: false)]
        XCTAssertEqual(try checkLease(readOfLease7(at: 7.50, keys: 2, besides: busyLeader()), bound: bound).violations.map(\.kind), [.late])
    }

    func testAnUnknownKeepaliveMovesTheLateBound() throws {
        let unknown: [(Int, String, String, String, Double)] = [(0, "invoke", "keepalive", "[7]", 5.00), (0, "info", "keepalive", "[7]", 10.00)]
        XCTAssertTrue(
            try checkLease(readOfLease7(at: 12.00, keys: 2, besides: busyLeader() + unknown)).violations.isEmpty,
            "the renewal may have landed at 10 s")
        XCTAssertEqual(try checkLease(readOfLease7(at: 12.00, keys: 2, besides: busyLeader())).violations.map(\.kind), [.late])
    }

    func testKeysFoundApartAreCaught() throws {
        let result = try checkLease(grantedAndRenewed + [(1, "invoke", "read", "[7 nil]", 4.50), (1, "ok", "read", "[7 1]", 4.60)])
        XCTAssertEqual(result.violations.map(\.kind), [.split])
    }

    func testAKeySeenAfterItsRevokeIsCaught() throws {
        let result = try checkLease(
            grantedAndRenewed + [
                (0, "invoke", "revoke", "[7]", 2.10), (0, "ok", "revoke", "[7]", 2.20),
                (1, "invoke", "read", "[7 nil]", 2.30), (1, "ok", "read", "[7 2]", 2.40),
            ])
        XCTAssertEqual(result.violations.map(\.kind), [.outlivedRevoke])
        // An absence after a revoke is not an early expiry.
        let revoked = try checkLease(
            grantedAndRenewed + [
                (0, "invoke", "revoke", "[7]", 2.10), (0, "ok", "revoke", "[7]", 2.20),
                (1, "invoke", "read", "[7 nil]", 2.30), (1, "ok", "read", "[7 0]", 2.40),
            ])
        XCTAssertTrue(revoked.violations.isEmpty, revoked.summary)
    }

    func testTheFinalReadOfEveryLeaseIsJudged() throws {
        let events = (grantedAndRenewed + busyLeader() + [(9, "invoke", "read-all", "nil", 13.00), (9, "ok", "read-all", "[[7 2]]", 13.10)])
            .sorted { $0.4 < $1.4 }
        let result = try checkLease(events)
        XCTAssertEqual(result.violations.map(\.kind), [.late])
        // Gone in the final read, and lease 8 (no keys, still renewed) is not judged on keys.
        let gone = (grantedAndRenewed + busyLeader() + [(9, "invoke", "read-all", "nil", 13.00), (9, "ok", "read-all", "[]", 13.10)])
            .sorted { $0.4 < $1.4 }
        XCTAssertEqual(try checkLease(gone).verdict, .valid)
    }

    func testKeysOfALeaseNeverGrantedAreCaught() throws {
        let result = try checkLease([(0, "invoke", "read-all", "nil", 1.0), (0, "ok", "read-all", "[[99 2]]", 1.1)])
        XCTAssertEqual(result.violations.map(\.kind), [.neverGranted])
    }

    func testNothingJudgedIsUnknown() throws {
        XCTAssertEqual(try checkLease(Array(grantedAndRenewed.prefix(4))).verdict, .unknown)
    }

    func testBadOperationsAreRefusedWithTheirLine() throws {
        let error = expectHistoryError { _ = try checkLease([(0, "invoke", "grant", "[7]", 0)]) }
        XCTAssertEqual(error?.line, 1)
        XCTAssertTrue(error?.message.contains("[lease ttl]") ?? false)
        let untimed = expectHistoryError {
            _ = try LeaseChecker.check(try history("{:process 0 :type :invoke :f :read :value [7 nil]}"))
        }
        XCTAssertTrue(untimed?.message.contains(":time") ?? false)
    }
}
