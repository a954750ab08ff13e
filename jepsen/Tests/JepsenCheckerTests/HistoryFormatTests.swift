import Foundation
import XCTest

@testable import JepsenChecker

/// Reading and writing EDN and JSON Lines, and rejecting malformed input with its line.
final class HistoryFormatTests: XCTestCase {
    func testEDNValuesCommentsAndCommas() throws {
        let value = try EDNReader.parse(
            """
            ; a comment
            {:a [1, -2 nil], :b (true false) ; trailing
             :c "x\\"y\\n" :d #{:k 3} :e {:f 7N}}
            """)
        XCTAssertEqual(
            value,
            .map([
                .keyword("a"): .vector([.int(1), .int(-2), .nil]),
                .keyword("b"): .list([.bool(true), .bool(false)]),
                .keyword("c"): .string("x\"y\n"),
                .keyword("d"): .set([.keyword("k"), .int(3)]),
                .keyword("e"): .map([.keyword("f"): .int(7)]),
            ]))
    }

    func testVectorAndMapPerLineShapesReadTheSame() throws {
        let vector = try EDNHistory.read(
            "[{:process 0, :type :invoke, :f :write, :value 1}\n {:type :ok, :process 0, :f :write, :value 1}]")
        let lines = try EDNHistory.read(
            "{:process 0 :type :invoke :f :write :value 1}\n{:process 0 :type :ok :f :write :value 1}\n")
        XCTAssertEqual(vector, lines)
        XCTAssertEqual(vector.count, 2)
        XCTAssertEqual(vector[1].type, .ok)
        XCTAssertEqual(vector[1].line, 2)
    }

    func testEDNRoundTripKeepsEveryField() throws {
        let events = [
            JepsenChecker.Operation(process: .client(3), type: .invoke, f: "cas", value: .vector([.int(1), .int(2)]), time: 15, index: 0),
            JepsenChecker.Operation(
                process: .client(3), type: .fail, f: "cas", value: .vector([.int(1), .int(2)]), time: 20, index: 1,
                error: .vector([.keyword("timeout"), .nil])),
            JepsenChecker.Operation(process: .nemesis, type: .info, f: "start", value: .string("Cut off {:n1 #{:n2}}")),
            JepsenChecker.Operation(process: .client(4), type: .invoke, f: "txn",
                value: .list([.set([.int(1)]), .map([.keyword("x"): .string(":odd")])])),
        ]
        let text = EDNHistory.write(events)
        XCTAssertEqual(try EDNHistory.read(text), events)
        XCTAssertEqual(text.split(separator: "\n").count, events.count, "one map per line")
    }

    func testJSONLinesRoundTripKeepsEveryField() throws {
        let events = [
            JepsenChecker.Operation(process: .client(0), type: .invoke, f: "read", value: .nil, time: 1),
            JepsenChecker.Operation(process: .client(0), type: .ok, f: "read", value: .string(":not-a-keyword"), time: 2),
            JepsenChecker.Operation(process: .nemesis, type: .info, f: "kill", value: .keyword("n1")),
            JepsenChecker.Operation(process: .client(1), type: .info, f: "txn",
                value: .list([.set([.int(1), .bool(true)]), .map([.int(1): .vector([])])]), error: .string("tab\there")),
        ]
        let text = JSONLinesHistory.write(events)
        XCTAssertTrue(text.hasPrefix("{\"process\":0,\"type\":\"invoke\",\"f\":\"read\""))
        XCTAssertEqual(try JSONLinesHistory.read(text), events)
        XCTAssertEqual(try History.parseEvents(text), events, "format detection picks JSON")
    }

    func testFixtureSurvivesConversionToJSONLinesAndBack() throws {
        let url = fixturesDirectory().appendingPathComponent("cas-register/bad/cas-failure.edn")
        let original = try History.parseEvents(try String(contentsOf: url, encoding: .utf8))
        let viaJSON = try JSONLinesHistory.read(JSONLinesHistory.write(original))
        XCTAssertEqual(viaJSON, original)
        let viaEDN = try EDNHistory.read(EDNHistory.write(viaJSON))
        XCTAssertEqual(viaEDN, original)
        let verdict = try Checker.check(try History(events: viaEDN), model: CASRegister(initial: .int(0))).verdict
        XCTAssertEqual(verdict, .invalid)
    }

    func testMalformedEDNIsRejectedWithLineAndReason() {
        let cases: [(String, Int, String)] = [
            ("[{:process 0 :type :invoke :f :read :value nil}\n{:process 0 :type :ok :f :read :value 1.5}]", 2, "only integers"),
            ("[{:process 0 :type :invoke :f :read}\n\n{:process 0 :type :ok :f :read :value \"abc}]", 3, "unterminated string"),
            ("[{:process 0 :type :invoke :f :read}\n{:process 0 :f :read}]", 2, "missing :type"),
            ("[{:process 0 :type :invoke :f :read}\n {:process x :type :ok :f :read}]", 2, "unsupported symbol"),
            ("{:process 0 :type :begin :f :read}", 1, ":type must be"),
            ("[{:process 0 :type :invoke :f :read}", 1, "not closed"),
            ("{:process \"p\" :type :invoke :f :read}", 1, ":process must be"),
            ("{:process 0 :type :invoke :f :read :value}", 1, "key without a value"),
        ]
        for (text, line, reason) in cases {
            let error = expectHistoryError { _ = try History(text: text) }
            XCTAssertEqual(error?.line, line, "for \(text)")
            XCTAssertTrue(error?.message.contains(reason) == true, "\(error?.message ?? "nil") should mention \(reason)")
        }
    }

    func testMalformedJSONLinesIsRejectedWithLine() {
        let text = "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n\n{\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"value\":[1,}\n"
        let error = expectHistoryError { _ = try History(text: text) }
        XCTAssertEqual(error?.line, 3)
        XCTAssertEqual(error?.code, .syntax)
    }

    func testWindowsLineEndingsAreAccepted() throws {
        let events = [
            JepsenChecker.Operation(process: .client(0), type: .invoke, f: "write", value: .int(1)),
            JepsenChecker.Operation(process: .client(0), type: .ok, f: "write", value: .int(1)),
        ]
        let json = JSONLinesHistory.write(events).replacingOccurrences(of: "\n", with: "\r\n")
        XCTAssertEqual(try JSONLinesHistory.read(json), events)
        let edn = EDNHistory.write(events).replacingOccurrences(of: "\n", with: "\r\n")
        let read = try EDNHistory.read(edn)
        XCTAssertEqual(read, events)
        XCTAssertEqual(read.map(\.line), [1, 2])
    }

    func testSecondInvokeWhileOpenIsRejected() {
        let text = """
            {:process 1 :type :invoke :f :write :value 1}
            {:process 2 :type :invoke :f :read :value nil}
            {:process 1 :type :invoke :f :write :value 2}
            """
        let error = expectHistoryError { _ = try History(text: text) }
        XCTAssertEqual(error?.code, .badPairing)
        XCTAssertEqual(error?.line, 3)
        XCTAssertTrue(error?.message.contains("line 1") == true, error?.message ?? "")
    }

    func testCompletionWithoutInvocationIsRejected() {
        let error = expectHistoryError { _ = try History(text: "{:process 4 :type :ok :f :read :value 1}") }
        XCTAssertEqual(error?.code, .badPairing)
        XCTAssertEqual(error?.line, 1)
    }

    func testPairingFollowsJepsenSemantics() throws {
        let parsed = try history(
            """
            [{:process 0 :type :invoke :f :write :value 1}
             {:process :nemesis :type :info :f :start :value nil}
             {:process 1 :type :invoke :f :write :value 2}
             {:process 0 :type :fail :f :write :value 1}
             {:process 1 :type :info :f :write :value 2}
             {:process 2 :type :invoke :f :read :value nil}]
            """)
        XCTAssertEqual(parsed.operations.map(\.outcome), [.fail, .info, .info])
        XCTAssertEqual(parsed.operations[1].completeEvent, 4)
        XCTAssertNil(parsed.operations[2].completeEvent, "never answered")
        XCTAssertEqual(parsed.nemesisEvents, [1])
    }

    func testModelRejectsUnknownFunctionWithLine() {
        let error = expectHistoryError {
            _ = try check("{:process 0 :type :invoke :f :increment :value 1}\n{:process 0 :type :ok :f :increment :value 1}",
                CASRegister(initial: .int(0)))
        }
        XCTAssertEqual(error?.code, .badModelInput)
        XCTAssertEqual(error?.line, 1)
    }
}
