import XCTest

@testable import JepsenChecker

/// The set-full checker: each outcome an element can have, each problem a read can show, and the verdict.
/// Operation ids are positions in `History.operations` (invocation order); event indexes count lines.
final class SetCheckerTests: XCTestCase {
    private func checkSet(_ text: String) throws -> SetCheckResult {
        try SetChecker.check(try history(text))
    }

    func testReadsThatFollowEveryAcknowledgementMakeElementsStable() throws {
        // The first read runs while add 2 is in flight, so missing 2 is allowed.
        let result = try checkSet(
            """
            {:process 0 :type :invoke :f :add :value 1}
            {:process 0 :type :ok :f :add :value 1}
            {:process 1 :type :invoke :f :add :value 2}
            {:process 2 :type :invoke :f :read :value nil}
            {:process 2 :type :ok :f :read :value [1]}
            {:process 1 :type :ok :f :add :value 2}
            {:process 0 :type :invoke :f :read :value nil}
            {:process 0 :type :ok :f :read :value [2 1]}
            {:process 2 :type :invoke :f :read :value nil}
            {:process 2 :type :ok :f :read :value #{1 2}}
            """)
        XCTAssertEqual(result.verdict, .valid)
        XCTAssertEqual(result.stable, [1, 2])
        XCTAssertEqual(result.attemptedCount, 2)
        XCTAssertEqual(result.acknowledgedCount, 2)
        XCTAssertEqual(result.readCount, 3)
        XCTAssertTrue(result.lost.isEmpty)
        XCTAssertTrue(result.stale.isEmpty)
        XCTAssertTrue(result.neverRead.isEmpty)
        XCTAssertTrue(result.summary.hasPrefix("valid: set of 2 attempted element(s)"), result.summary)
    }

    func testElementMissingFromEveryLaterReadIsLost() throws {
        // 1 is seen once, then gone; 2 is acknowledged and never seen at all.
        let result = try checkSet(
            """
            {:process 0 :type :invoke :f :add :value 1}
            {:process 0 :type :ok :f :add :value 1}
            {:process 0 :type :invoke :f :add :value 2}
            {:process 0 :type :ok :f :add :value 2}
            {:process 1 :type :invoke :f :read :value nil}
            {:process 1 :type :ok :f :read :value [1]}
            {:process 1 :type :invoke :f :read :value nil}
            {:process 1 :type :ok :f :read :value []}
            {:process 2 :type :invoke :f :read :value nil}
            {:process 2 :type :ok :f :read :value #{}}
            """)
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertEqual(
            result.lost,
            [
                SetLostElement(element: 1, addOperationID: 0, knownEvent: 1, lastSeenByOperationID: 2, missedByOperationID: 3),
                SetLostElement(element: 2, addOperationID: 1, knownEvent: 3, lastSeenByOperationID: nil, missedByOperationID: 2),
            ])
        XCTAssertTrue(result.stable.isEmpty)
        XCTAssertTrue(result.stale.isEmpty, "a lost element is not also counted stale")
        XCTAssertTrue(result.summary.contains("lost: [1, 2]"), result.summary)
    }

    func testElementMissedAfterItsAcknowledgementThenSeenAgainIsStale() throws {
        // 1 is missed by one read right after its ack; 2 is missed by a read three events after it was known.
        let result = try checkSet(
            """
            {:process 0 :type :invoke :f :add :value 1 :time 100}
            {:process 0 :type :ok :f :add :value 1 :time 200}
            {:process 1 :type :invoke :f :read :value nil :time 300}
            {:process 1 :type :ok :f :read :value []}
            {:process 0 :type :invoke :f :add :value 2}
            {:process 0 :type :ok :f :add :value 2}
            {:process 1 :type :invoke :f :read :value nil}
            {:process 1 :type :ok :f :read :value [1]}
            {:process 1 :type :invoke :f :read :value nil}
            {:process 1 :type :ok :f :read :value [1]}
            {:process 1 :type :invoke :f :read :value nil}
            {:process 1 :type :ok :f :read :value [1 2]}
            """)
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertEqual(
            result.stale,
            [
                SetStaleElement(
                    element: 1, addOperationID: 0, knownEvent: 1, missedByOperationID: 1, seenAgainByOperationID: 5,
                    staleEvents: 1, staleNanoseconds: 100),
                SetStaleElement(
                    element: 2, addOperationID: 2, knownEvent: 5, missedByOperationID: 4, seenAgainByOperationID: 5,
                    staleEvents: 3, staleNanoseconds: nil),
            ])
        XCTAssertEqual(result.worstStale?.element, 2)
        XCTAssertTrue(result.lost.isEmpty)
        XCTAssertTrue(result.stable.isEmpty)
        XCTAssertTrue(result.summary.contains("worst 2"), result.summary)
    }

    func testReadConcurrentWithTheOnlyLaterSightingStillMakesTheMissStale() throws {
        // The miss (op 2) begins after the ack; the sighting (op 1) began earlier but ended later.
        let result = try checkSet(
            """
            {:process 0 :type :invoke :f :add :value 1}
            {:process 0 :type :ok :f :add :value 1}
            {:process 1 :type :invoke :f :read :value nil}
            {:process 2 :type :invoke :f :read :value nil}
            {:process 2 :type :ok :f :read :value []}
            {:process 1 :type :ok :f :read :value [1]}
            """)
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertEqual(result.stale.map(\.element), [1])
        XCTAssertEqual(result.stale.first?.missedByOperationID, 2)
        XCTAssertEqual(result.stale.first?.seenAgainByOperationID, 1)
    }

    func testElementReturnedTwiceByOneReadIsDuplicated() throws {
        let result = try checkSet(
            """
            {:process 0 :type :invoke :f :add :value 1}
            {:process 0 :type :ok :f :add :value 1}
            {:process 0 :type :invoke :f :read :value nil}
            {:process 0 :type :ok :f :read :value [1 1 1]}
            """)
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertEqual(result.duplicated, [SetDuplicatedElement(element: 1, readOperationID: 1, copies: 3)])
        XCTAssertEqual(result.stable, [1])
    }

    func testElementNobodyAddedIsUnexpected() throws {
        let result = try checkSet(
            """
            {:process 0 :type :invoke :f :add :value 1}
            {:process 0 :type :ok :f :add :value 1}
            {:process 0 :type :invoke :f :read :value nil}
            {:process 0 :type :ok :f :read :value [1 9]}
            """)
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertEqual(result.unexpected, [SetElementSighting(element: 9, readOperationID: 1, addOperationID: nil)])
        XCTAssertEqual(result.stable, [1])
    }

    func testElementWithNoReadAfterItsAcknowledgementIsNeverRead() throws {
        let result = try checkSet(
            """
            {:process 0 :type :invoke :f :add :value 1}
            {:process 0 :type :ok :f :add :value 1}
            {:process 1 :type :invoke :f :read :value nil}
            {:process 0 :type :invoke :f :add :value 2}
            {:process 1 :type :ok :f :read :value [1]}
            {:process 0 :type :ok :f :add :value 2}
            """)
        XCTAssertEqual(result.verdict, .valid, "a never-read element is no evidence either way")
        XCTAssertEqual(result.stable, [1])
        XCTAssertEqual(result.neverRead, [2])
    }

    func testUnknownAddThatShowsUpIsRecoveredAndThenHeldToTheSameRule() throws {
        // 3's add crashed but a read saw it, so it is in the set from then on; 4's add crashed unseen.
        let result = try checkSet(
            """
            {:process 0 :type :invoke :f :add :value 3}
            {:process 0 :type :info :f :add :value 3}
            {:process 1 :type :invoke :f :add :value 4}
            {:process 1 :type :info :f :add :value 4}
            {:process 2 :type :invoke :f :read :value nil}
            {:process 2 :type :ok :f :read :value [3]}
            {:process 2 :type :invoke :f :read :value nil}
            {:process 2 :type :ok :f :read :value [3]}
            """)
        XCTAssertEqual(result.verdict, .valid)
        XCTAssertEqual(result.recovered, [SetElementSighting(element: 3, readOperationID: 2, addOperationID: 0)])
        XCTAssertEqual(result.stable, [3])
        XCTAssertEqual(result.unresolved, [4])
        XCTAssertEqual(result.acknowledgedCount, 0)

        let dropped = try checkSet(
            """
            {:process 0 :type :invoke :f :add :value 3}
            {:process 0 :type :info :f :add :value 3}
            {:process 2 :type :invoke :f :read :value nil}
            {:process 2 :type :ok :f :read :value [3]}
            {:process 2 :type :invoke :f :read :value nil}
            {:process 2 :type :ok :f :read :value []}
            """)
        XCTAssertEqual(dropped.verdict, .invalid, "once seen, a recovered element may not vanish")
        XCTAssertEqual(dropped.lost.map(\.element), [3])
        XCTAssertEqual(dropped.lost.first?.knownEvent, 3)
    }

    func testFailedAddThatShowsUpIsAnError() throws {
        let result = try checkSet(
            """
            {:process 0 :type :invoke :f :add :value 5}
            {:process 0 :type :fail :f :add :value 5}
            {:process 0 :type :invoke :f :add :value 6}
            {:process 0 :type :fail :f :add :value 6}
            {:process 1 :type :invoke :f :read :value nil}
            {:process 1 :type :ok :f :read :value [5]}
            """)
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertEqual(result.readAfterFailedAdd, [SetElementSighting(element: 5, readOperationID: 2, addOperationID: 0)])
        XCTAssertTrue(result.recovered.isEmpty)
        XCTAssertEqual(result.unresolved, [6], "an unseen failed add is simply not in the set")
        XCTAssertTrue(result.lost.isEmpty)
    }

    func testReadReturningAnElementBeforeItsAddBeganIsAnError() throws {
        let result = try checkSet(
            """
            {:process 1 :type :invoke :f :read :value nil}
            {:process 1 :type :ok :f :read :value [5]}
            {:process 0 :type :invoke :f :add :value 5}
            {:process 0 :type :ok :f :add :value 5}
            {:process 1 :type :invoke :f :read :value nil}
            {:process 1 :type :ok :f :read :value [5]}
            """)
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertEqual(result.readBeforeAdd, [SetElementSighting(element: 5, readOperationID: 0, addOperationID: 1)])
    }

    func testHistoryWithoutReadsAfterTheAddsIsUnknown() throws {
        let noReads = try checkSet(
            """
            {:process 0 :type :invoke :f :add :value 1}
            {:process 0 :type :ok :f :add :value 1}
            {:process 1 :type :invoke :f :read :value nil}
            {:process 1 :type :info :f :read :value nil}
            """)
        XCTAssertEqual(noReads.verdict, .unknown)
        XCTAssertEqual(noReads.neverRead, [1])
        XCTAssertEqual(noReads.readCount, 0, "an :info read says nothing")

        let readsBefore = try checkSet(
            """
            {:process 1 :type :invoke :f :read :value nil}
            {:process 1 :type :ok :f :read :value []}
            {:process 0 :type :invoke :f :add :value 1}
            {:process 0 :type :ok :f :add :value 1}
            """)
        XCTAssertEqual(readsBefore.verdict, .unknown)
        XCTAssertTrue(readsBefore.summary.hasPrefix("unknown:"), readsBefore.summary)
    }

    func testMalformedOperationsAreRefusedWithTheirLine() throws {
        let badAdd = expectHistoryError {
            _ = try self.checkSet(
                """
                {:process 0 :type :invoke :f :add :value "x"}
                {:process 0 :type :ok :f :add :value "x"}
                """)
        }
        XCTAssertEqual(badAdd?.code, .badModelInput)
        XCTAssertEqual(badAdd?.line, 1)
        let badRead = expectHistoryError {
            _ = try self.checkSet(
                """
                {:process 0 :type :invoke :f :read :value nil}
                {:process 0 :type :ok :f :read :value 3}
                """)
        }
        XCTAssertEqual(badRead?.code, .badModelInput)
        let twice = expectHistoryError {
            _ = try self.checkSet(
                """
                {:process 0 :type :invoke :f :add :value 1}
                {:process 0 :type :ok :f :add :value 1}
                {:process 0 :type :invoke :f :add :value 1}
                {:process 0 :type :ok :f :add :value 1}
                """)
        }
        XCTAssertEqual(twice?.line, 3)
    }

    func testJSONCapsListsButKeepsExactCounts() throws {
        // 25 acknowledged adds, one read of all, then one empty read: all 25 are lost.
        var lines: [String] = []
        for element in 0..<25 {
            lines.append("{:process 0 :type :invoke :f :add :value \(element)}")
            lines.append("{:process 0 :type :ok :f :add :value \(element)}")
        }
        let all = (0..<25).map(String.init).joined(separator: " ")
        lines += [
            "{:process 1 :type :invoke :f :read :value nil}", "{:process 1 :type :ok :f :read :value [\(all)]}",
            "{:process 1 :type :invoke :f :read :value nil}", "{:process 1 :type :ok :f :read :value []}",
        ]
        let result = try checkSet(lines.joined(separator: "\n"))
        XCTAssertEqual(result.lost.count, 25)
        let json = result.json
        XCTAssertTrue(json.hasPrefix("{\"checker\":\"set\",\"verdict\":\"invalid\",\"valid\":false"), json)
        XCTAssertTrue(json.contains("\"lost_count\":25,"), json)
        XCTAssertEqual(json.components(separatedBy: "\"missed_by\":26").count - 1, SetCheckResult.reportedElementsMax)
        XCTAssertTrue(
            json.contains("{\"element\":0,\"add\":0,\"known_event\":1,\"last_seen_by\":25,\"missed_by\":26}"), json)
        XCTAssertTrue(result.summary.contains("(+5 more)"), result.summary)
    }
}
