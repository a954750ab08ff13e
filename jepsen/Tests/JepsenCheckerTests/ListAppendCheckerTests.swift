import XCTest

@testable import JepsenChecker

/// The list-append checker on small hand-made histories: one per anomaly class, with the exact classes
/// reported and the transactions and edges of each cycle. `Tn` is operation id n (invocation order).
final class ListAppendCheckerTests: XCTestCase {
    private func checkAppend(_ text: String) throws -> ListAppendResult {
        try ListAppendChecker.check(try history(text))
    }

    /// The `index`th anomaly, failing the test (instead of crashing the suite) when there are fewer.
    private func nth(_ result: ListAppendResult, _ index: Int) throws -> ListAppendAnomaly {
        struct MissingAnomaly: Error { var summary: String }
        guard index < result.anomalies.count else { throw MissingAnomaly(summary: result.summary) }
        return result.anomalies[index]
    }

    private func classes(_ result: ListAppendResult) -> [ListAppendAnomalyClass] {
        result.anomalies.map(\.anomalyClass)
    }

    func testConcurrentHistoryWithUnknownAndFailedTransactionsIsValid() throws {
        // T0 then T1 (concurrent, T1 saw T0's append); T2's outcome is unknown but T5 saw its append;
        // T3's is unknown and unseen; T4 failed and is unseen; T5 reads its own append.
        let result = try checkAppend(
            """
            {:process 0 :type :invoke :f :txn :value [[:append 1 1] [:r 2 nil]]}
            {:process 1 :type :invoke :f :txn :value [[:r 1 nil] [:append 2 1]]}
            {:process 0 :type :ok :f :txn :value [[:append 1 1] [:r 2 []]]}
            {:process 1 :type :ok :f :txn :value [[:r 1 [1]] [:append 2 1]]}
            {:process 2 :type :invoke :f :txn :value [[:append 1 2]]}
            {:process 2 :type :info :f :txn :value [[:append 1 2]]}
            {:process 3 :type :invoke :f :txn :value [[:append 2 9]]}
            {:process 3 :type :info :f :txn :value [[:append 2 9]]}
            {:process 0 :type :invoke :f :txn :value [[:append 2 5]]}
            {:process 0 :type :fail :f :txn :value [[:append 2 5]]}
            {:process 1 :type :invoke :f :txn :value [[:r 1 nil] [:r 2 nil] [:append 1 3] [:r 1 nil]]}
            {:process 4 :type :invoke :f :txn :value [[:r 2 nil]]}
            {:process 4 :type :ok :f :txn :value [[:r 2 [1]]]}
            {:process 1 :type :ok :f :txn :value [[:r 1 [1 2]] [:r 2 [1]] [:append 1 3] [:r 1 [1 2 3]]]}
            """)
        XCTAssertEqual(result.verdict, .valid, result.summary)
        XCTAssertEqual(result.anomalies, [])
        XCTAssertEqual(result.transactionCount, 7)
        XCTAssertEqual(result.cyclicComponentCount, 0)
        XCTAssertGreaterThan(result.dependencyEdgeCount, 0)
        XCTAssertTrue(result.summary.hasPrefix("valid: list-append, 7 transaction(s)"), result.summary)
    }

    func testWriteCycleIsG0() throws {
        let result = try checkAppend(
            """
            {:process 0 :type :invoke :f :txn :value [[:append 1 1] [:append 2 2]]}
            {:process 1 :type :invoke :f :txn :value [[:append 1 2] [:append 2 1]]}
            {:process 0 :type :ok :f :txn :value [[:append 1 1] [:append 2 2]]}
            {:process 1 :type :ok :f :txn :value [[:append 1 2] [:append 2 1]]}
            {:process 2 :type :invoke :f :txn :value [[:r 1 nil] [:r 2 nil]]}
            {:process 2 :type :ok :f :txn :value [[:r 1 [1 2]] [:r 2 [1 2]]]}
            """)
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertEqual(classes(result), [.g0])
        let cycle = try nth(result, 0)
        XCTAssertEqual(cycle.operationIDs, [0, 1])
        XCTAssertEqual(
            cycle.edges,
            [
                DependencyEdge(from: 0, to: 1, kind: .ww, key: 1, element: 1, nextElement: 2),
                DependencyEdge(from: 1, to: 0, kind: .ww, key: 2, element: 1, nextElement: 2),
            ])
        XCTAssertEqual(cycle.edges[0].explanation, "T0 appended 1 to key 1, T1 appended 2 right after it: ww")
        XCTAssertEqual(cycle.operations[0].value, .vector([
            .vector([.keyword("append"), .int(1), .int(1)]), .vector([.keyword("append"), .int(2), .int(2)]),
        ]))
    }

    func testReadOfFailedAppendIsG1a() throws {
        let result = try checkAppend(
            """
            {:process 0 :type :invoke :f :txn :value [[:append 1 1]]}
            {:process 0 :type :fail :f :txn :value [[:append 1 1]]}
            {:process 1 :type :invoke :f :txn :value [[:r 1 nil]]}
            {:process 1 :type :ok :f :txn :value [[:r 1 [1]]]}
            """)
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertEqual(classes(result), [.g1a])
        XCTAssertEqual(try nth(result, 0).operationIDs, [1, 0])
        XCTAssertEqual(try nth(result, 0).key, 1)
        XCTAssertEqual(try nth(result, 0).operations[1].outcome, .fail)
    }

    func testReadOfAnIntermediateAppendIsG1bAndClosesAGSingleCycle() throws {
        // T1 saw 1 but not the 2 that T0 appended after it in the same transaction.
        let result = try checkAppend(
            """
            {:process 0 :type :invoke :f :txn :value [[:append 1 1] [:append 1 2]]}
            {:process 1 :type :invoke :f :txn :value [[:r 1 nil]]}
            {:process 0 :type :ok :f :txn :value [[:append 1 1] [:append 1 2]]}
            {:process 1 :type :ok :f :txn :value [[:r 1 [1]]]}
            {:process 2 :type :invoke :f :txn :value [[:r 1 nil]]}
            {:process 2 :type :ok :f :txn :value [[:r 1 [1 2]]]}
            """)
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertEqual(classes(result), [.g1b, .gSingle])
        XCTAssertEqual(try nth(result, 0).operationIDs, [1, 0])
        XCTAssertEqual(try nth(result, 0).key, 1)
        XCTAssertEqual(try nth(result, 1).operationIDs, [1, 0])
        XCTAssertEqual(try nth(result, 1).edges.map(\.kind), [.rw, .wr])
    }

    func testCircularInformationFlowIsG1c() throws {
        let result = try checkAppend(
            """
            {:process 0 :type :invoke :f :txn :value [[:append 1 1] [:r 2 nil]]}
            {:process 1 :type :invoke :f :txn :value [[:append 2 1] [:r 1 nil]]}
            {:process 0 :type :ok :f :txn :value [[:append 1 1] [:r 2 [1]]]}
            {:process 1 :type :ok :f :txn :value [[:append 2 1] [:r 1 [1]]]}
            """)
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertEqual(classes(result), [.g1c])
        XCTAssertEqual(try nth(result, 0).operationIDs, [0, 1])
        XCTAssertEqual(
            try nth(result, 0).edges,
            [
                DependencyEdge(from: 0, to: 1, kind: .wr, key: 1, element: 1),
                DependencyEdge(from: 1, to: 0, kind: .wr, key: 2, element: 1),
            ])
        XCTAssertEqual(
            try nth(result, 0).edges[0].explanation, "T0 appended 1 to key 1, T1 read [.. 1] of key 1: wr")
    }

    func testReadSkewIsGSingle() throws {
        // T1 sees T0's append to key 1 but not its append to key 2.
        let result = try checkAppend(
            """
            {:process 0 :type :invoke :f :txn :value [[:append 1 1] [:append 2 1]]}
            {:process 1 :type :invoke :f :txn :value [[:r 1 nil] [:r 2 nil]]}
            {:process 0 :type :ok :f :txn :value [[:append 1 1] [:append 2 1]]}
            {:process 1 :type :ok :f :txn :value [[:r 1 [1]] [:r 2 []]]}
            {:process 2 :type :invoke :f :txn :value [[:r 2 nil]]}
            {:process 2 :type :ok :f :txn :value [[:r 2 [1]]]}
            """)
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertEqual(classes(result), [.gSingle])
        XCTAssertEqual(try nth(result, 0).operationIDs, [1, 0])
        XCTAssertEqual(
            try nth(result, 0).edges,
            [
                DependencyEdge(from: 1, to: 0, kind: .rw, key: 2, element: nil, nextElement: 1),
                DependencyEdge(from: 0, to: 1, kind: .wr, key: 1, element: 1),
            ])
        XCTAssertEqual(
            try nth(result, 0).edges[0].explanation, "T1 read key 2 empty, T0 appended 1, the next element: rw")
    }

    func testWriteSkewIsG2Item() throws {
        let result = try checkAppend(
            """
            {:process 0 :type :invoke :f :txn :value [[:r 1 nil] [:append 2 1]]}
            {:process 1 :type :invoke :f :txn :value [[:r 2 nil] [:append 1 1]]}
            {:process 0 :type :ok :f :txn :value [[:r 1 []] [:append 2 1]]}
            {:process 1 :type :ok :f :txn :value [[:r 2 []] [:append 1 1]]}
            {:process 2 :type :invoke :f :txn :value [[:r 1 nil] [:r 2 nil]]}
            {:process 2 :type :ok :f :txn :value [[:r 1 [1]] [:r 2 [1]]]}
            """)
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertEqual(classes(result), [.g2Item])
        XCTAssertEqual(try nth(result, 0).operationIDs, [0, 1])
        XCTAssertEqual(try nth(result, 0).edges.map(\.kind), [.rw, .rw])
        XCTAssertEqual(try nth(result, 0).edges.map(\.key), [1, 2])
    }

    func testStaleReadAfterACompletedAppendIsGSingleRealtime() throws {
        // Serializable (T1, T0, T2) but not strictly: T1 began after T0's append was acknowledged.
        let stale = """
            {:process 0 :type :invoke :f :txn :value [[:append 1 1]]}
            {:process 0 :type :ok :f :txn :value [[:append 1 1]]}
            {:process 1 :type :invoke :f :txn :value [[:r 1 nil]]}
            {:process 1 :type :ok :f :txn :value [[:r 1 []]]}
            {:process 2 :type :invoke :f :txn :value [[:r 1 nil]]}
            {:process 2 :type :ok :f :txn :value [[:r 1 [1]]]}
            """
        let result = try checkAppend(stale)
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertEqual(classes(result), [.gSingleRealtime])
        XCTAssertEqual(try nth(result, 0).operationIDs, [0, 1])
        XCTAssertEqual(
            try nth(result, 0).edges,
            [
                DependencyEdge(from: 0, to: 1, kind: .realtime),
                DependencyEdge(from: 1, to: 0, kind: .rw, key: 1, element: nil, nextElement: 1),
            ])
        XCTAssertEqual(try nth(result, 0).edges[0].explanation, "T0 completed before T1 was invoked: realtime")

        // The same reads with T1 overlapping T0: no real-time order, nothing wrong.
        let overlapping = try checkAppend(
            """
            {:process 0 :type :invoke :f :txn :value [[:append 1 1]]}
            {:process 1 :type :invoke :f :txn :value [[:r 1 nil]]}
            {:process 0 :type :ok :f :txn :value [[:append 1 1]]}
            {:process 1 :type :ok :f :txn :value [[:r 1 []]]}
            {:process 2 :type :invoke :f :txn :value [[:r 1 nil]]}
            {:process 2 :type :ok :f :txn :value [[:r 1 [1]]]}
            """)
        XCTAssertEqual(overlapping.verdict, .valid, overlapping.summary)
    }

    func testAppendOrderAgainstRealTimeIsG0Realtime() throws {
        // T1's append was acknowledged before T0 began, yet the list puts T0's element first.
        let result = try checkAppend(
            """
            {:process 1 :type :invoke :f :txn :value [[:append 1 2]]}
            {:process 1 :type :ok :f :txn :value [[:append 1 2]]}
            {:process 0 :type :invoke :f :txn :value [[:append 1 1]]}
            {:process 0 :type :ok :f :txn :value [[:append 1 1]]}
            {:process 2 :type :invoke :f :txn :value [[:r 1 nil]]}
            {:process 2 :type :ok :f :txn :value [[:r 1 [1 2]]]}
            """)
        XCTAssertEqual(classes(result), [.g0Realtime])
        XCTAssertEqual(try nth(result, 0).operationIDs, [0, 1])
        XCTAssertEqual(try nth(result, 0).edges.map(\.kind), [.realtime, .ww])
    }

    func testReadsThatContradictTheirOwnTransactionAreInternal() throws {
        let result = try checkAppend(
            """
            {:process 2 :type :invoke :f :txn :value [[:append 2 1]]}
            {:process 2 :type :ok :f :txn :value [[:append 2 1]]}
            {:process 0 :type :invoke :f :txn :value [[:append 1 5] [:r 1 nil]]}
            {:process 0 :type :ok :f :txn :value [[:append 1 5] [:r 1 []]]}
            {:process 1 :type :invoke :f :txn :value [[:r 2 nil] [:r 2 nil]]}
            {:process 1 :type :ok :f :txn :value [[:r 2 [1]] [:r 2 []]]}
            """)
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertEqual(classes(result), [.internal, .internal])
        XCTAssertEqual(result.anomalies.map(\.operationIDs), [[1], [2]])
        XCTAssertEqual(result.anomalies.map(\.key), [1, 2])
        XCTAssertEqual(try nth(result, 0).explanation, "T1 read [] of key 1, but its own earlier steps imply [.. 5]")
        XCTAssertEqual(try nth(result, 1).explanation, "T2 read [] of key 2, but its own earlier steps imply [1]")
    }

    func testReadsThatAreNotPrefixesOfEachOtherAreIncompatibleOrder() throws {
        let result = try checkAppend(
            """
            {:process 0 :type :invoke :f :txn :value [[:append 1 1]]}
            {:process 0 :type :ok :f :txn :value [[:append 1 1]]}
            {:process 1 :type :invoke :f :txn :value [[:append 1 2]]}
            {:process 1 :type :ok :f :txn :value [[:append 1 2]]}
            {:process 2 :type :invoke :f :txn :value [[:r 1 nil]]}
            {:process 2 :type :ok :f :txn :value [[:r 1 [1 2]]]}
            {:process 3 :type :invoke :f :txn :value [[:r 1 nil]]}
            {:process 3 :type :ok :f :txn :value [[:r 1 [2]]]}
            """)
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertEqual(classes(result), [.incompatibleOrder])
        XCTAssertEqual(try nth(result, 0).operationIDs, [2, 3])
        XCTAssertEqual(try nth(result, 0).key, 1)
    }

    func testElementNobodyAppendedIsGarbage() throws {
        let result = try checkAppend(
            """
            {:process 0 :type :invoke :f :txn :value [[:append 1 1]]}
            {:process 0 :type :ok :f :txn :value [[:append 1 1]]}
            {:process 1 :type :invoke :f :txn :value [[:r 1 nil]]}
            {:process 1 :type :ok :f :txn :value [[:r 1 [1 99]]]}
            """)
        XCTAssertEqual(classes(result), [.garbage])
        XCTAssertEqual(try nth(result, 0).operationIDs, [1])
        XCTAssertEqual(try nth(result, 0).explanation, "T1 read [1 99] of key 1, but no transaction appended 99 to it")
    }

    func testElementReadTwiceInOneListIsDuplicate() throws {
        let result = try checkAppend(
            """
            {:process 0 :type :invoke :f :txn :value [[:append 1 1]]}
            {:process 0 :type :ok :f :txn :value [[:append 1 1]]}
            {:process 1 :type :invoke :f :txn :value [[:r 1 nil]]}
            {:process 1 :type :ok :f :txn :value [[:r 1 [1 1]]]}
            """)
        XCTAssertEqual(classes(result), [.duplicateElements])
        XCTAssertEqual(try nth(result, 0).operationIDs, [1])
    }

    func testCommittedAppendAfterAFailedOneIsDirtyUpdate() throws {
        let result = try checkAppend(
            """
            {:process 0 :type :invoke :f :txn :value [[:append 1 1]]}
            {:process 0 :type :fail :f :txn :value [[:append 1 1]]}
            {:process 1 :type :invoke :f :txn :value [[:append 1 2]]}
            {:process 1 :type :ok :f :txn :value [[:append 1 2]]}
            {:process 2 :type :invoke :f :txn :value [[:r 1 nil]]}
            {:process 2 :type :ok :f :txn :value [[:r 1 [1 2]]]}
            """)
        XCTAssertEqual(classes(result), [.g1a, .dirtyUpdate])
        XCTAssertEqual(try nth(result, 1).operationIDs, [0, 1])
    }

    func testMalformedTransactionsAreRefusedWithTheirLine() throws {
        let wrongFunction = expectHistoryError {
            _ = try self.checkAppend("{:process 0 :type :invoke :f :read :value nil}")
        }
        XCTAssertEqual(wrongFunction?.code, .badModelInput)
        let unknownMicroOp = expectHistoryError {
            _ = try self.checkAppend(
                """
                {:process 0 :type :invoke :f :txn :value [[:append 1 1]]}
                {:process 0 :type :ok :f :txn :value [[:append 1 1]]}
                {:process 0 :type :invoke :f :txn :value [[:w 1 1]]}
                """)
        }
        XCTAssertEqual(unknownMicroOp?.line, 3)
        let appendedTwice = expectHistoryError {
            _ = try self.checkAppend(
                """
                {:process 0 :type :invoke :f :txn :value [[:append 1 1]]}
                {:process 1 :type :invoke :f :txn :value [[:append 1 1]]}
                """)
        }
        XCTAssertEqual(appendedTwice?.line, 2)
    }

    func testReportsNameTheClassTransactionsAndEdges() throws {
        let result = try checkAppend(
            """
            {:process 0 :type :invoke :f :txn :value [[:append 1 1]]}
            {:process 0 :type :ok :f :txn :value [[:append 1 1]]}
            {:process 1 :type :invoke :f :txn :value [[:r 1 nil]]}
            {:process 1 :type :ok :f :txn :value [[:r 1 []]]}
            {:process 2 :type :invoke :f :txn :value [[:r 1 nil]]}
            {:process 2 :type :ok :f :txn :value [[:r 1 [1]]]}
            """)
        let json = result.json
        XCTAssertTrue(json.hasPrefix("{\"checker\":\"list-append\",\"verdict\":\"invalid\",\"valid\":false"), json)
        XCTAssertTrue(json.contains("\"anomaly_counts\":{\"G-single-realtime\":1}"), json)
        XCTAssertTrue(
            json.contains(
                "{\"from\":1,\"to\":0,\"kind\":\"rw\",\"key\":1,\"element\":null,\"next_element\":1,"
                    + "\"explanation\":\"T1 read key 1 empty, T0 appended 1, the next element: rw\"}"), json)
        XCTAssertTrue(json.contains("{\"id\":0,\"process\":0,\"outcome\":\"ok\",\"value\":\"[[:append 1 1]]\"}"), json)
        let summary = result.summary
        XCTAssertTrue(summary.hasPrefix("invalid: list-append, 3 transaction(s)"), summary)
        XCTAssertTrue(summary.contains("  G-single-realtime: 1\n"), summary)
        XCTAssertTrue(summary.contains("      T1 (process 1, ok): [[:r 1 []]]"), summary)
    }
}
