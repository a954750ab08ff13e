import XCTest

@testable import JepsenChecker

/// The list-append checker on large seeded histories: a strictly serializable one must be valid, and
/// one changed read must make it invalid, within a bounded time.
final class ListAppendRandomHistoryTests: XCTestCase {
    /// One generated transaction.
    private struct Transaction {
        var microOps: [(isAppend: Bool, key: Int, element: Int, read: [Int]?)]
        var outcome: OperationType
        /// Times of invocation and completion, around the transaction's serial position.
        var invokeTime: Int
        var completeTime: Int
        var process = 0
        var invokeEvent = 0
    }

    private static let keyCount = 8
    private static let transactionCount = 4000
    /// How far, in serial steps of 10 time units, an invocation or completion may stray from the
    /// transaction's serial point; 25 lets up to about five transactions overlap.
    private static let overlapTimeMax = 25

    /// A serial execution in which each transaction takes effect at time 10 × its position, inside its
    /// [invoke, complete] interval, so real-time order never contradicts the serial order; 5% of the
    /// transactions fail (no effect) and 5% end `:info` (taking effect or not, at random). Ends with one
    /// read of every key.
    private func generate(seed: UInt64) -> [Transaction] {
        var random = SplitMix64(state: seed)
        var lists = Array(repeating: [Int](), count: Self.keyCount)
        var nextElement = Array(repeating: 1, count: Self.keyCount)
        var transactions: [Transaction] = []
        for position in 1...Self.transactionCount {
            let roll = Int.random(in: 0..<100, using: &random)
            let outcome: OperationType = roll < 5 ? .fail : roll < 10 ? .info : .ok
            let applies = outcome == .ok || (outcome == .info && Bool.random(using: &random))
            var view = lists
            var microOps: [(isAppend: Bool, key: Int, element: Int, read: [Int]?)] = []
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let key = Int.random(in: 0..<Self.keyCount, using: &random)
                if Bool.random(using: &random) {
                    let element = nextElement[key]
                    nextElement[key] += 1
                    view[key].append(element)
                    microOps.append((true, key, element, nil))
                } else {
                    microOps.append((false, key, 0, view[key]))
                }
            }
            if applies { lists = view }
            transactions.append(
                Transaction(
                    microOps: microOps, outcome: outcome,
                    invokeTime: 10 * position - Int.random(in: 1...Self.overlapTimeMax, using: &random),
                    completeTime: 10 * position + Int.random(in: 1...Self.overlapTimeMax, using: &random)))
        }
        let end = 10 * (Self.transactionCount + 10)
        transactions.append(
            Transaction(
                microOps: (0..<Self.keyCount).map { (false, $0, 0, lists[$0]) }, outcome: .ok, invokeTime: end,
                completeTime: end + 1))
        return transactions
    }

    /// Gives each transaction a process that is idle over its interval, and writes the events in time
    /// order (a completion before an invocation at the same time).
    private func events(_ transactions: inout [Transaction]) -> [JepsenChecker.Operation] {
        var busyUntil: [Int] = []
        for index in transactions.indices.sorted(by: { transactions[$0].invokeTime < transactions[$1].invokeTime }) {
            if let idle = busyUntil.firstIndex(where: { $0 < transactions[index].invokeTime }) {
                transactions[index].process = idle
                busyUntil[idle] = transactions[index].completeTime
            } else {
                transactions[index].process = busyUntil.count
                busyUntil.append(transactions[index].completeTime)
            }
        }
        var endpoints: [(time: Int, isInvoke: Bool, index: Int)] = []
        for (index, transaction) in transactions.enumerated() {
            endpoints.append((transaction.invokeTime, true, index))
            endpoints.append((transaction.completeTime, false, index))
        }
        endpoints.sort { ($0.time, $0.isInvoke ? 1 : 0) < ($1.time, $1.isInvoke ? 1 : 0) }
        var out: [JepsenChecker.Operation] = []
        for endpoint in endpoints {
            let transaction = transactions[endpoint.index]
            let filled = endpoint.isInvoke == false && transaction.outcome == .ok
            let value = Value.vector(
                transaction.microOps.map { op in
                    if op.isAppend { return .vector([.keyword("append"), .int(op.key), .int(op.element)]) }
                    let read: Value = filled ? .vector(op.read!.map(Value.int)) : .nil
                    return .vector([.keyword("r"), .int(op.key), read])
                })
            if endpoint.isInvoke { transactions[endpoint.index].invokeEvent = out.count }
            out.append(
                JepsenChecker.Operation(
                    process: .client(transaction.process), type: endpoint.isInvoke ? .invoke : transaction.outcome,
                    f: "txn", value: value, time: endpoint.time))
        }
        return out
    }

    /// A committed transaction in the middle of the history with a read of a key it does not append to,
    /// returning at least `elementsMin` elements, such that `accept` holds; returns (transaction, micro-op).
    private func middleRead(
        _ transactions: [Transaction], elementsMin: Int, where accept: (Int, Int) -> Bool = { _, _ in true }
    ) -> (Int, Int) {
        for index in (Self.transactionCount / 2)..<Self.transactionCount where transactions[index].outcome == .ok {
            let microOps = transactions[index].microOps
            for (position, op) in microOps.enumerated()
            where !op.isAppend && op.read!.count >= elementsMin
                && !microOps.contains(where: { $0.isAppend && $0.key == op.key }) && accept(index, position)
            {
                return (index, position)
            }
        }
        preconditionFailure("the seeded history has such a read")
    }

    private func check(_ events: [JepsenChecker.Operation], timeLimit: Duration? = nil) throws -> (ListAppendResult, History) {
        let history = try History(events: events)
        let clock = ContinuousClock()
        let start = clock.now
        let result = try ListAppendChecker.check(history, timeLimit: timeLimit)
        print("list-append: \(history.operations.count) transactions, \(result.dependencyEdgeCount) edges, "
            + "\(result.verdict), \(clock.now - start)")
        return (result, history)
    }

    private func operationID(_ transaction: Transaction, in history: History) -> Int {
        history.operations.first { $0.invokeEvent == transaction.invokeEvent }!.id
    }

    func testLargeSeededStrictlySerializableHistoryIsValid() throws {
        var transactions = generate(seed: 20_240_101)
        let (result, _) = try check(events(&transactions))
        XCTAssertEqual(result.verdict, .valid, result.summary)
        XCTAssertEqual(result.transactionCount, Self.transactionCount + 1)
        XCTAssertGreaterThan(result.dependencyEdgeCount, Self.transactionCount, "ww, wr, rw and real-time edges")
        XCTAssertLessThan(result.elapsed, .seconds(20), "near-linear time, even in a debug build")
    }

    func testDroppingAMiddleElementOfOneReadIsIncompatibleOrder() throws {
        var transactions = generate(seed: 20_240_101)
        let (index, position) = middleRead(transactions, elementsMin: 3)
        transactions[index].microOps[position].read!.remove(at: 1)
        let (result, history) = try check(events(&transactions))
        XCTAssertEqual(result.verdict, .invalid)
        let reader = operationID(transactions[index], in: history)
        XCTAssertEqual(result.anomalies(of: .incompatibleOrder).count, 1, result.summary)
        XCTAssertTrue(result.anomalies(of: .incompatibleOrder).first?.operationIDs.contains(reader) ?? false, result.summary)
        XCTAssertLessThan(result.elapsed, .seconds(20))
    }

    func testDroppingTheLastElementOfAReadAfterItsAppendCompletedMakesACycleThroughBoth() throws {
        var transactions = generate(seed: 20_240_101)
        // The writer of the dropped element was acknowledged before the reader began.
        func writer(of index: Int, _ position: Int) -> Int {
            let op = transactions[index].microOps[position]
            return transactions.firstIndex { $0.microOps.contains { $0.isAppend && $0.key == op.key && $0.element == op.read!.last! } }!
        }
        let (index, position) = middleRead(transactions, elementsMin: 1) { index, position in
            let writerIndex = writer(of: index, position)
            return transactions[writerIndex].outcome == .ok
                && transactions[writerIndex].completeTime < transactions[index].invokeTime
        }
        let writerIndex = writer(of: index, position)
        transactions[index].microOps[position].read!.removeLast()
        let (result, history) = try check(events(&transactions))
        XCTAssertEqual(result.verdict, .invalid)
        let cycles = result.anomalies.filter { !$0.edges.isEmpty }
        XCTAssertFalse(cycles.isEmpty, result.summary)
        XCTAssertEqual(result.anomalies.count, cycles.count, "only cycles: " + result.summary)
        // Every edge of the original history follows the serial order, so each cycle uses the new rw edge.
        let reader = operationID(transactions[index], in: history)
        let appender = operationID(transactions[writerIndex], in: history)
        for cycle in cycles {
            XCTAssertTrue(
                cycle.edges.contains { $0.kind == .rw && $0.from == reader && $0.to == appender }, cycle.explanation)
        }
        XCTAssertLessThan(result.elapsed, .seconds(20))
    }

    func testTimeLimitGivesUnknownNotAGuess() throws {
        var transactions = generate(seed: 7)
        let (result, _) = try check(events(&transactions), timeLimit: .nanoseconds(1))
        XCTAssertEqual(result.verdict, .unknown)
        XCTAssertTrue(result.unknownReason?.contains("time limit") ?? false, result.summary)
        XCTAssertTrue(result.summary.contains("stopped: the time limit ran out"), result.summary)
    }
}
