import XCTest

@testable import JepsenChecker

/// The HTML page shows what it promises: verdict, fault shading, highlighted operations, hover states.
final class ReportTests: XCTestCase {
    private let text = """
        {:process 0 :type :invoke :f :write :value 1 :time 0}
        {:process 0 :type :ok :f :write :value 1 :time 1000000}
        {:process :nemesis :type :info :f :start :value "partition" :time 1500000}
        {:process 1 :type :invoke :f :read :value nil :time 2000000}
        {:process 2 :type :invoke :f :write :value 2 :time 2100000}
        {:process 2 :type :info :f :write :value 2 :time 2500000}
        {:process 1 :type :ok :f :read :value 3 :time 3000000}
        {:process :nemesis :type :info :f :stop :value nil :time 3500000}
        """

    func testInvalidReportShowsVerdictFaultsAndTheIllegalOperation() throws {
        let history = try History(text: text)
        let result = try Checker.check(history, model: CASRegister(initial: .int(0)))
        XCTAssertEqual(result.verdict, .invalid)
        let page = HTMLReport.render(result, history: history, name: "example.edn")
        XCTAssertTrue(page.contains("INVALID: the history is not linearizable"))
        XCTAssertTrue(page.contains("starting at <code>0</code>"), "the initial state is named")
        XCTAssertEqual(page.components(separatedBy: "class=\"nemesis\"").count - 1, 3, "timeline and both plots shade the fault")
        XCTAssertTrue(page.contains("nemesis: start &quot;partition&quot;"))
        XCTAssertTrue(page.contains("class=\"op ok bad\" data-op=\"1\""), "the read of 3 is the illegal operation")
        XCTAssertTrue(page.contains("class=\"op ok lin\" data-op=\"0\""), "the write of 1 is in the prefix")
        XCTAssertTrue(page.contains("\"ord\":1,\"sb\":\"0\",\"sa\":\"1\""), "hover data carries states before and after")
        XCTAssertTrue(page.contains("\"bad\":\"2 or 1\""), "hover data of the illegal operation names the state it failed in")
        let tip = try XCTUnwrap(page.range(of: "<div id=\"tip\">"))
        let script = try XCTUnwrap(page.range(of: "<script>"))
        XCTAssertLessThan(tip.lowerBound, script.lowerBound, "the hover box exists before the script looks it up")
        XCTAssertTrue(page.contains("latency (ms, log)"), "recorded :time gives real units")
        XCTAssertFalse(page.contains("<script src") || page.contains("<link"), "nothing is loaded from elsewhere")
    }

    func testTextAndJSONSummariesNameTheFailingOperation() throws {
        let history = try History(text: text)
        let result = try Checker.check(history, model: CASRegister(initial: .int(0)))
        let summary = TextReport.summary(result, history: history, name: "example.edn")
        XCTAssertTrue(summary.hasPrefix("invalid: example.edn"), summary)
        XCTAssertTrue(summary.contains("cannot linearize: operation 1 by process 1 (line 4): read → 3"), summary)
        let json = TextReport.json(result, history: history, name: "example.edn")
        XCTAssertTrue(json.contains("\"verdict\":\"invalid\",\"valid\":false"), json)
        XCTAssertTrue(json.contains("\"failing_operation\":{\"id\":1,\"process\":1,\"f\":\"read\",\"line\":4"), json)
    }

    func testLongHistoryTimelineShowsAWindowAroundTheFailingOperation() throws {
        var lines: [String] = []
        for index in 0..<4000 {
            let seen = index == 2500 ? 99 : index
            lines.append("{:process 0 :type :invoke :f :write :value \(index)}\n{:process 0 :type :ok :f :write :value \(index)}")
            lines.append("{:process 1 :type :invoke :f :read :value nil}\n{:process 1 :type :ok :f :read :value \(seen)}")
        }
        let history = try History(text: lines.joined(separator: "\n"))
        let result = try Checker.check(history, model: CASRegister(initial: .int(0)))
        XCTAssertEqual(result.verdict, .invalid)
        let failing = try XCTUnwrap(result.firstInvalidPartition?.failingOperationID)
        XCTAssertEqual(failing, 5001, "the read of 99 after the write of 2500")
        let page = HTMLReport.render(result, history: history, name: "long.edn")
        XCTAssertTrue(page.contains("Showing events 8503–11502 of 16000"), "a 3000-event window centred on it")
        XCTAssertTrue(page.contains("data-op=\"\(failing)\""))
        XCTAssertFalse(page.contains("data-op=\"0\""), "operations far from the failure are left out")
    }
}
