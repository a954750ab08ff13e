import XCTest

@testable import JepsenChecker

/// The search: crashed and failed operations, the invalid report, and the time limit.
final class CheckerTests: XCTestCase {
    func testCrashedWriteMayTakeEffectLongAfterItsInvocation() throws {
        let text = """
            {:process 0 :type :invoke :f :write :value 7}
            {:process 0 :type :info :f :write :value 7}
            {:process 1 :type :invoke :f :read :value nil}
            {:process 1 :type :ok :f :read :value 0}
            {:process 1 :type :invoke :f :read :value nil}
            {:process 1 :type :ok :f :read :value 7}
            """
        XCTAssertEqual(try check(text, CASRegister(initial: .int(0))).verdict, .valid)
    }

    func testCrashedOperationMayNeverTakeEffect() throws {
        // The crashed CAS would be illegal at any point (the value is never 9); it simply never happened.
        let text = """
            {:process 0 :type :invoke :f :cas :value [9 1]}
            {:process 0 :type :info :f :cas :value [9 1]}
            {:process 1 :type :invoke :f :write :value 3}
            {:process 1 :type :ok :f :write :value 3}
            {:process 2 :type :invoke :f :write :value 4}
            """
        XCTAssertEqual(try check(text, CASRegister(initial: .int(0))).verdict, .valid)
    }

    func testCrashedOperationCannotTakeEffectBeforeItsInvocation() throws {
        let text = """
            {:process 1 :type :invoke :f :read :value nil}
            {:process 1 :type :ok :f :read :value 7}
            {:process 0 :type :invoke :f :write :value 7}
            {:process 0 :type :info :f :write :value 7}
            """
        XCTAssertEqual(try check(text, CASRegister(initial: .int(0))).verdict, .invalid)
    }

    func testFailedOperationDidNotHappen() throws {
        let text = """
            {:process 0 :type :invoke :f :write :value 7}
            {:process 0 :type :fail :f :write :value 7}
            {:process 1 :type :invoke :f :read :value nil}
            {:process 1 :type :ok :f :read :value 7}
            """
        let result = try check(text, CASRegister(initial: .int(0)))
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertEqual(result.partitions[0].operationIDs, [1], "the failed write is not checked")
    }

    func testInvalidReportNamesOperationPrefixAndStates() throws {
        // Knossos's rethink-fail-minimal: the value is 0, then concurrently write 4 and read 3.
        let text = """
            ({:type :invoke, :f :write, :value 0, :process 0}
             {:type :ok, :f :write, :value 0, :process 0}
             {:type :invoke, :f :read, :value nil, :process 1}
             {:type :invoke, :f :write, :value 4, :process 2}
             {:type :ok, :f :read, :value 3, :process 1}
             {:type :ok, :f :write, :value 4, :process 2})
            """
        let result = try check(text, CASRegister(initial: .nil))
        XCTAssertEqual(result.verdict, .invalid)
        let partition = try XCTUnwrap(result.firstInvalidPartition)
        XCTAssertEqual(partition.failingOperationID, 1, "the read of 3")
        XCTAssertEqual(partition.linearization.map(\.operationID), [0, 2])
        XCTAssertEqual(partition.linearization.map(\.stateAfter), ["0", "4"])
        XCTAssertEqual(Set(partition.possibleStates), ["0", "4"], "Knossos: could have been 0 or 4 but not 3")
        XCTAssertEqual(result.operationDescriptions[1], "read → 3")
    }

    func testValidResultCarriesAFullLinearizationConsistentWithTheModel() throws {
        let text = """
            {:process 0 :type :invoke :f :write :value 1}
            {:process 1 :type :invoke :f :write :value 2}
            {:process 2 :type :invoke :f :read :value nil}
            {:process 2 :type :ok :f :read :value 1}
            {:process 0 :type :ok :f :write :value 1}
            {:process 1 :type :ok :f :write :value 2}
            """
        let result = try check(text, CASRegister(initial: .int(0)))
        XCTAssertEqual(result.verdict, .valid)
        let order = result.partitions[0].linearization
        XCTAssertEqual(Set(order.map(\.operationID)), [0, 1, 2])
        XCTAssertEqual(order.last?.stateAfter, order.map(\.operationID).last == 1 ? "2" : "1")
        for (earlier, later) in zip(order, order.dropFirst()) {
            XCTAssertEqual(earlier.stateAfter, later.stateBefore, "states chain along the linearization")
        }
    }

    /// Thirty concurrent writes of distinct values followed by a read of a value nobody wrote: the
    /// search must explore 2^30 subsets before it could say invalid, so a tiny limit must say unknown.
    func testTimeLimitGivesUnknownNeverAGuess() throws {
        var lines: [String] = []
        let writersCount = 30
        for process in 0..<writersCount { lines.append("{:process \(process) :type :invoke :f :write :value \(process + 1)}") }
        for process in 0..<writersCount { lines.append("{:process \(process) :type :ok :f :write :value \(process + 1)}") }
        lines.append("{:process 99 :type :invoke :f :read :value nil}")
        lines.append("{:process 99 :type :ok :f :read :value 1000}")
        let result = try check(lines.joined(separator: "\n"), CASRegister(initial: .int(0)), timeLimit: .milliseconds(50))
        XCTAssertEqual(result.verdict, .unknown)
        XCTAssertEqual(result.partitions[0].verdict, .unknown)
        XCTAssertNil(result.partitions[0].failingOperationID)
        XCTAssertLessThan(result.elapsed, .seconds(10), "the limit is honoured")
    }

    /// Concurrent writes of distinct values and then a read of a value nobody wrote: refuting it takes
    /// every subset of the writes, each with its last value, in the cache.
    private func concurrentWritesThenImpossibleRead(writers: Int) -> String {
        var lines: [String] = []
        for process in 0..<writers { lines.append("{:process \(process) :type :invoke :f :write :value \(process + 1)}") }
        for process in 0..<writers { lines.append("{:process \(process) :type :ok :f :write :value \(process + 1)}") }
        lines.append("{:process 99 :type :invoke :f :read :value nil}")
        lines.append("{:process 99 :type :ok :f :read :value 1000}")
        return lines.joined(separator: "\n")
    }

    func testMemoryLimitGivesUnknownWithItsReasonNeverAGuess() throws {
        let limit = 256 << 10
        let history = try History(text: concurrentWritesThenImpossibleRead(writers: 12))
        let result = try Checker.check(history, model: CASRegister(initial: .int(0)), memoryLimitBytes: limit)
        XCTAssertEqual(result.verdict, .unknown)
        XCTAssertEqual(result.unknownReason?.code, .memoryLimit)
        XCTAssertEqual(result.partitions[0].unknownReason?.code, .memoryLimit)
        XCTAssertTrue(result.unknownReason?.message.contains(String(limit)) ?? false, "the message names the limit")
        XCTAssertNil(result.partitions[0].failingOperationID)
        XCTAssertLessThanOrEqual(result.partitions[0].searchBytes, limit, "the charged tables stayed within the limit")
        XCTAssertGreaterThan(result.partitions[0].cachedConfigurations, 0)
    }

    func testDefaultMemoryLimitLetsTheSameHistoryBeDecided() throws {
        let history = try History(text: concurrentWritesThenImpossibleRead(writers: 12))
        let result = try Checker.check(history, model: CASRegister(initial: .int(0)))
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertNil(result.unknownReason)
        XCTAssertEqual(result.firstInvalidPartition?.failingOperationID, 12, "the read")
        XCTAssertGreaterThan(result.partitions[0].searchBytes, 256 << 10, "more than the small limit allowed")
        XCTAssertLessThan(result.partitions[0].searchBytes, Checker.memoryLimitBytesDefault)
    }

    func testTimeLimitNamesItsReason() throws {
        let history = try History(text: concurrentWritesThenImpossibleRead(writers: 30))
        let result = try Checker.check(history, model: CASRegister(initial: .int(0)), timeLimit: .milliseconds(20))
        XCTAssertEqual(result.verdict, .unknown)
        XCTAssertEqual(result.unknownReason?.code, .timeLimit)
    }

    func testHistoryOfOnlyCrashedOperationsIsValidAndNothingNeedTakeEffect() throws {
        let text = """
            {:process 0 :type :invoke :f :cas :value [5 6]}
            {:process 0 :type :info :f :cas :value [5 6]}
            {:process 1 :type :invoke :f :write :value 3}
            {:process 1 :type :info :f :write :value 3}
            """
        let result = try check(text, CASRegister(initial: .int(0)))
        XCTAssertEqual(result.verdict, .valid)
        XCTAssertEqual(result.partitions[0].linearization.map(\.operationID), [], "neither had to take effect")
    }

    func testIdenticalCrashedWritesCanEachTakeEffect() throws {
        // Two crashed writes of 1 and a crashed write of 2: the reads 1, 2, 1 need both writes of 1.
        let text = """
            {:process 0 :type :invoke :f :write :value 1}
            {:process 0 :type :info :f :write :value 1}
            {:process 1 :type :invoke :f :write :value 1}
            {:process 1 :type :info :f :write :value 1}
            {:process 2 :type :invoke :f :write :value 2}
            {:process 2 :type :info :f :write :value 2}
            {:process 3 :type :invoke :f :read :value nil}
            {:process 3 :type :ok :f :read :value 1}
            {:process 3 :type :invoke :f :read :value nil}
            {:process 3 :type :ok :f :read :value 2}
            {:process 3 :type :invoke :f :read :value nil}
            {:process 3 :type :ok :f :read :value 1}
            """
        XCTAssertEqual(try check(text, CASRegister(initial: .int(0))).verdict, .valid)
        let third = text.replacingOccurrences(of: ":ok :f :read :value 1}\n{:process 3 :type :invoke :f :read :value nil}\n{:process 3 :type :ok :f :read :value 2}", with: ":ok :f :read :value 1}\n{:process 3 :type :invoke :f :read :value nil}\n{:process 3 :type :ok :f :read :value 2}\n{:process 3 :type :invoke :f :read :value nil}\n{:process 3 :type :ok :f :read :value 1}\n{:process 3 :type :invoke :f :read :value nil}\n{:process 3 :type :ok :f :read :value 2}")
        XCTAssertEqual(try check(third, CASRegister(initial: .int(0))).verdict, .invalid, "1, 2, 1, 2, 1 needs a third write")
    }

    func testEmptyHistoryIsValid() throws {
        XCTAssertEqual(try check("[]", CASRegister(initial: .int(0))).verdict, .valid)
    }
}
