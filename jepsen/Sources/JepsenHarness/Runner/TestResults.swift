// results.json: what was run, what clients saw, what the nemesis did, and what the checker said.
import Foundation
import JepsenChecker

/// The facts of a finished run, for results.json and the report.
struct TestResults {
    let configuration: TestConfiguration
    let entries: [HistoryRecorder.Entry]
    let history: History
    let checked: WorkloadVerdict
    /// The run's verdict: the checker's, made invalid by a crash or a cluster that did not recover.
    let verdict: Verdict
    /// Why the verdict differs from the checker's, if it does.
    let reasons: [String]
    let notes: [String]
    let startedAt: Date

    /// Client operations by outcome.
    var outcomeCounts: [Outcome: Int] {
        var counts: [Outcome: Int] = [:]
        for operation in history.operations { counts[operation.outcome, default: 0] += 1 }
        return counts
    }

    /// Client operations by function, then outcome.
    var countsByFunction: [String: [Outcome: Int]] {
        var counts: [String: [Outcome: Int]] = [:]
        for operation in history.operations { counts[operation.f, default: [:]][operation.outcome, default: 0] += 1 }
        return counts
    }

    /// Nemesis events with their wall-clock times.
    var nemesisEvents: [(time: Date, f: String, value: String)] {
        entries.filter { $0.event.process == .nemesis }.map { entry in
            let text: String = if case .string(let s) = entry.event.value { s } else { entry.event.value.description }
            return (entry.wallTime, entry.event.f, text)
        }
    }

    /// ISO 8601 with milliseconds, UTC.
    static func timeText(_ date: Date) -> String {
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return format.string(from: date)
    }

    /// The JSON document.
    func json() -> String {
        let c = configuration
        func seconds(_ d: Duration) -> String { String(Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18) }
        var out = "{\n"
        out += "  \"verdict\": \(jsonString(verdict.rawValue)),\n"
        out += "  \"reasons\": [\(reasons.map(jsonString).joined(separator: ", "))],\n"
        out += "  \"notes\": [\(notes.map(jsonString).joined(separator: ", "))],\n"
        out += "  \"started\": \(jsonString(Self.timeText(startedAt))),\n"
        out += "  \"config\": {\"workload\": \(jsonString(c.workload)), \"nodes\": \(c.nodeCount), \"time_s\": \(seconds(c.duration)), "
        out += "\"nemesis\": [\(c.nemeses.map(jsonString).joined(separator: ", "))], \"binary\": \(jsonString(c.binary)), "
        out += "\"server_args\": [\(c.serverArguments.map(jsonString).joined(separator: ", "))], "
        out += "\"read_consistency\": \(jsonString(c.reads.rawValue)), \"rate\": \(c.rate), \"concurrency\": \(c.concurrency), "
        out += "\"op_timeout_s\": \(seconds(c.operationTimeout)), \"seed\": \(c.seed), \"nemesis_interval_s\": \(seconds(c.nemesisInterval)), "
        out += "\"ops_max\": \(c.operationsMax)},\n"
        let counts = outcomeCounts
        out += "  \"ops\": {\"ok\": \(counts[.ok, default: 0]), \"fail\": \(counts[.fail, default: 0]), \"info\": \(counts[.info, default: 0]), \"by_f\": {"
        out += countsByFunction.sorted { $0.key < $1.key }.map { f, byOutcome in
            "\(jsonString(f)): {\"ok\": \(byOutcome[.ok, default: 0]), \"fail\": \(byOutcome[.fail, default: 0]), \"info\": \(byOutcome[.info, default: 0])}"
        }.joined(separator: ", ")
        out += "}},\n"
        out += "  \"nemesis_events\": [\n"
        out += nemesisEvents.map { event in
            "    {\"time\": \(jsonString(Self.timeText(event.time))), \"f\": \(jsonString(event.f)), \"value\": \(jsonString(event.value))}"
        }.joined(separator: ",\n")
        out += "\n  ],\n"
        out += "  \"checker\": {\"name\": \(jsonString(checked.checker)), \"verdict\": \(jsonString(checked.verdict.rawValue)), \"result\": \(checked.json)}\n"
        return out + "}\n"
    }
}
