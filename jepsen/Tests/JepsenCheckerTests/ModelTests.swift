import XCTest

@testable import JepsenChecker

/// Each shipped model accepts a linearizable history and rejects a non-linearizable one.
final class ModelTests: XCTestCase {
    func testCASRegisterAcceptsConcurrentReadOfEitherValue() throws {
        let text = """
            {:process 0 :type :invoke :f :write :value 1}
            {:process 1 :type :invoke :f :read :value nil}
            {:process 1 :type :ok :f :read :value 0}
            {:process 0 :type :ok :f :write :value 1}
            {:process 1 :type :invoke :f :cas :value [1 2]}
            {:process 1 :type :ok :f :cas :value [1 2]}
            {:process 0 :type :invoke :f :read :value nil}
            {:process 0 :type :ok :f :read :value 2}
            """
        XCTAssertEqual(try check(text, CASRegister(initial: .int(0))).verdict, .valid)
    }

    func testCASRegisterRejectsCASFromWrongValue() throws {
        let text = """
            {:process 0 :type :invoke :f :write :value 1}
            {:process 0 :type :ok :f :write :value 1}
            {:process 1 :type :invoke :f :cas :value [0 2]}
            {:process 1 :type :ok :f :cas :value [0 2]}
            """
        let result = try check(text, CASRegister(initial: .int(0)))
        XCTAssertEqual(result.verdict, .invalid)
        XCTAssertEqual(result.partitions[0].failingOperationID, 1)
        XCTAssertEqual(result.partitions[0].possibleStates, ["1"])
    }

    func testCASRegisterAllowsNilReadAnywhereButNilRegisterDoesNot() throws {
        let text = """
            {:process 0 :type :invoke :f :write :value 5}
            {:process 0 :type :ok :f :write :value 5}
            {:process 1 :type :invoke :f :read :value nil}
            {:process 1 :type :ok :f :read :value nil}
            """
        XCTAssertEqual(try check(text, CASRegister(initial: .int(0))).verdict, .valid)
        XCTAssertEqual(try check(text, NilRegister(initial: .nil)).verdict, .invalid)
    }

    func testNilRegisterReadsAbsentKeyAsNilBeforeFirstWrite() throws {
        let text = """
            {:process 1 :type :invoke :f :read :value nil}
            {:process 1 :type :ok :f :read :value nil}
            {:process 0 :type :invoke :f :cas :value [nil 3]}
            {:process 0 :type :ok :f :cas :value [nil 3]}
            {:process 1 :type :invoke :f :read :value nil}
            {:process 1 :type :ok :f :read :value 3}
            """
        XCTAssertEqual(try check(text, NilRegister(initial: .nil)).verdict, .valid)
        XCTAssertEqual(try check(text, NilRegister(initial: .int(0))).verdict, .invalid, "key present from the start")
    }

    func testMultiRegisterChecksReadsInsideTransactions() throws {
        let valid = """
            {:process 0 :type :invoke :f :txn :value [[:write :x 1] [:write :y 2]]}
            {:process 0 :type :ok :f :txn :value [[:write :x 1] [:write :y 2]]}
            {:process 1 :type :invoke :f :txn :value [[:read :x nil] [:read :y nil]]}
            {:process 1 :type :ok :f :txn :value [[:read :x 1] [:read :y 2]]}
            """
        let initial: [Value: Value] = [.keyword("x"): .int(0), .keyword("y"): .int(0)]
        XCTAssertEqual(try check(valid, MultiRegister(initial: initial)).verdict, .valid)
        let torn = valid.replacingOccurrences(of: "[[:read :x 1] [:read :y 2]]", with: "[[:read :x 1] [:read :y 0]]")
        XCTAssertEqual(try check(torn, MultiRegister(initial: initial)).verdict, .invalid, "a torn read of a transaction")
    }

    func testMutexForbidsTwoHolders() throws {
        let exclusive = """
            {:process 0 :type :invoke :f :acquire :value nil}
            {:process 0 :type :ok :f :acquire :value nil}
            {:process 1 :type :invoke :f :acquire :value nil}
            {:process 0 :type :invoke :f :release :value nil}
            {:process 0 :type :ok :f :release :value nil}
            {:process 1 :type :ok :f :acquire :value nil}
            """
        XCTAssertEqual(try check(exclusive, MutexModel()).verdict, .valid)
        let doubleHeld = """
            {:process 0 :type :invoke :f :acquire :value nil}
            {:process 0 :type :ok :f :acquire :value nil}
            {:process 1 :type :invoke :f :acquire :value nil}
            {:process 1 :type :ok :f :acquire :value nil}
            """
        XCTAssertEqual(try check(doubleHeld, MutexModel()).verdict, .invalid)
    }

    func testSetReadMustSeeExactlyTheAddedElements() throws {
        let text = """
            {:process 0 :type :invoke :f :add :value 1}
            {:process 0 :type :ok :f :add :value 1}
            {:process 1 :type :invoke :f :add :value 2}
            {:process 0 :type :invoke :f :read :value nil}
            {:process 0 :type :ok :f :read :value #{1}}
            {:process 1 :type :ok :f :add :value 2}
            {:process 0 :type :invoke :f :read :value nil}
            {:process 0 :type :ok :f :read :value [2 1]}
            """
        XCTAssertEqual(try check(text, SetModel()).verdict, .valid)
        let lost = text.replacingOccurrences(of: ":value [2 1]", with: ":value [2]")
        XCTAssertEqual(try check(lost, SetModel()).verdict, .invalid, "an acknowledged add vanished")
    }

    func testKeyValueMapPartitionsPerKeyAndFindsTheBadKey() throws {
        let text = """
            {:process 0 :type :invoke :f :put :value [:a "x"]}
            {:process 0 :type :ok :f :put :value [:a "x"]}
            {:process 1 :type :invoke :f :append :value [:b "1"]}
            {:process 1 :type :ok :f :append :value [:b "1"]}
            {:process 0 :type :invoke :f :append :value [:a "y"]}
            {:process 0 :type :ok :f :append :value [:a "y"]}
            {:process 1 :type :invoke :f :get :value [:b nil]}
            {:process 1 :type :ok :f :get :value [:b "1"]}
            {:process 0 :type :invoke :f :get :value [:a nil]}
            {:process 0 :type :ok :f :get :value [:a "xy"]}
            {:process 2 :type :invoke :f :get :value [:c nil]}
            {:process 2 :type :ok :f :get :value [:c nil]}
            """
        let result = try check(text, KeyValueMap())
        XCTAssertEqual(result.verdict, .valid)
        XCTAssertEqual(result.partitions.map(\.key), [.keyword("a"), .keyword("b"), .keyword("c")])
        let stale = text.replacingOccurrences(of: "[:a \"xy\"]}", with: "[:a \"x\"]}")
        let bad = try check(stale, KeyValueMap())
        XCTAssertEqual(bad.verdict, .invalid)
        XCTAssertEqual(bad.firstInvalidPartition?.key, .keyword("a"))
        XCTAssertEqual(bad.partitions.first { $0.key == .keyword("b") }?.verdict, .valid)
    }

    func testModelCatalogKnowsEveryModelAndRejectsOthers() throws {
        let parsed = try history("{:process 0 :type :invoke :f :read :value nil}")
        let initials: [String: Value?] = [
            "cas-register": .int(0), "register": nil, "multi-register": .map([:]), "mutex": nil, "set": nil, "kv": nil,
        ]
        XCTAssertEqual(Set(initials.keys), Set(ModelCatalog.names))
        let casResult = try ModelCatalog.check(parsed, model: "cas-register", initial: .int(0), timeLimit: nil)
        XCTAssertEqual(casResult.model, "cas-register")
        let error = expectHistoryError { _ = try ModelCatalog.check(parsed, model: "queue", initial: nil, timeLimit: nil) }
        XCTAssertTrue(error?.message.contains("unknown model") == true)
    }

    func testIndependentRegistersAreCheckedPerKey() throws {
        let text = """
            {:process 0 :type :invoke :f :write :value [1 5]}
            {:process 0 :type :ok :f :write :value [1 5]}
            {:process 1 :type :invoke :f :read :value [2 nil]}
            {:process 1 :type :ok :f :read :value [2 nil]}
            {:process 1 :type :invoke :f :cas :value [1 [5 6]]}
            {:process 1 :type :ok :f :cas :value [1 [5 6]]}
            {:process 0 :type :invoke :f :read :value [1 nil]}
            {:process 0 :type :ok :f :read :value [1 6]}
            """
        let result = try ModelCatalog.check(try history(text), model: "independent-register", initial: .nil, timeLimit: nil)
        XCTAssertEqual(result.verdict, .valid)
        XCTAssertEqual(result.model, "independent-register")
        XCTAssertEqual(result.partitions.map(\.key), [.int(1), .int(2)])
        let lost = text.replacingOccurrences(of: ":ok :f :read :value [2 nil]", with: ":ok :f :read :value [2 5]")
        let bad = try ModelCatalog.check(try history(lost), model: "independent-register", initial: .nil, timeLimit: nil)
        XCTAssertEqual(bad.verdict, .invalid, "key 2 was never written")
        XCTAssertEqual(bad.firstInvalidPartition?.key, .int(2))
        XCTAssertEqual(bad.operationDescriptions[1], "key 2: read → 5")
    }

    func testIndependentRejectsValuesThatAreNotTuples() {
        let error = expectHistoryError {
            _ = try ModelCatalog.check(
                try history("{:process 0 :type :invoke :f :write :value 5}"), model: "independent-cas-register",
                initial: nil, timeLimit: nil)
        }
        XCTAssertEqual(error?.code, .badModelInput)
        XCTAssertEqual(error?.line, 1)
    }
}
