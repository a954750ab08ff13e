// report.html: one self-contained page per run: the verdict, what ran, the faults on a wall-clock
// table and shaded on the plots, latency and throughput over time, and what each member logged
// around the operations the checker blames.
import Foundation
import JepsenChecker

/// Renders the run report.
enum TestReport {
    /// Seconds of server log shown on each side of a blamed operation.
    static let excerptMarginSeconds = 3.0
    /// Lines shown per member per blamed operation.
    static let excerptLinesMax = 60
    /// Blamed operations that get log excerpts.
    static let excerptOperationsMax = 3

    static func render(results: TestResults, cluster: TestCluster) -> String {
        let e = RunPlots.escape
        let c = results.configuration
        var page = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>jepsen test: \(e(c.workload))</title>"
        page += "<style>\(RunPlots.css) table.facts td,table.facts th{padding:2px 10px;text-align:left} pre.log{font-size:11px;background:#f6f6f6;padding:6px;overflow-x:auto;max-height:420px}</style></head><body>"
        page += "<h1>jepsen test <span class=\"file\">\(e(c.workload)) · \(c.nodeCount) nodes · \(e(c.nemeses.isEmpty ? "no faults" : c.nemeses.joined(separator: ", ")))</span></h1>"
        let bannerClass = results.verdict.rawValue
        let bannerText: String =
            switch results.verdict {
            case .valid: "✔ VALID"
            case .invalid: "✘ INVALID"
            case .unknown: "? UNKNOWN (not a verdict either way)"
            }
        page += "<div class=\"banner \(bannerClass)\">\(bannerText): \(e(results.checked.checker)) checker says \(results.checked.verdict.rawValue)</div>"
        for reason in results.reasons { page += "<p><b>\(e(reason))</b></p>" }
        for note in results.notes { page += "<p class=\"hint\">\(e(note))</p>" }

        page += "<h2>Run</h2><table class=\"facts\">"
        let started = TestResults.timeText(results.startedAt)
        let rows: [(String, String)] = [
            ("server", c.binary + (c.serverArguments.isEmpty ? "" : " " + c.serverArguments.joined(separator: " "))),
            ("started (time 0 of the plots)", started),
            ("duration", "\(c.duration)"), ("reads", c.reads.rawValue), ("concurrency", "\(c.concurrency)"),
            ("rate", "\(c.rate) ops/s at most"), ("operation timeout", "\(c.operationTimeout)"), ("seed", "\(c.seed)"),
            ("nemesis interval", "\(c.nemesisInterval)"),
        ]
        for (name, value) in rows { page += "<tr><th>\(e(name))</th><td>\(e(value))</td></tr>" }
        page += "</table>"

        page += "<h2>Operations</h2><table class=\"facts\"><tr><th>f</th><th>ok</th><th>fail</th><th>info</th></tr>"
        for (f, counts) in results.countsByFunction.sorted(by: { $0.key < $1.key }) {
            page += "<tr><td>\(e(f))</td><td>\(counts[.ok, default: 0])</td><td>\(counts[.fail, default: 0])</td><td>\(counts[.info, default: 0])</td></tr>"
        }
        page += "</table>"

        page += "<h2>Faults</h2><table class=\"facts\"><tr><th>wall clock</th><th>t (s)</th><th>event</th><th>what</th></tr>"
        for event in results.nemesisEvents {
            let offset = event.time.timeIntervalSince(results.startedAt)
            page += "<tr><td>\(e(TestResults.timeText(event.time)))</td><td>\(String(format: "%.1f", offset))</td><td>\(e(event.f))</td><td>\(e(event.value))</td></tr>"
        }
        page += "</table>"

        page += "<h2>Latency</h2><p class=\"hint\">One mark per answered operation at its invocation; colour: ok (green), fail (red), info (orange); shape: operation type. Shaded: a fault.</p>"
        page += RunPlots.latency(results.history)
        page += "<h2>Throughput</h2>" + RunPlots.throughput(results.history)

        page += "<h2>Checker: \(e(results.checked.checker))</h2>"
        if results.checked.html != nil { page += "<p><a href=\"checker.html\">The checker's full report</a></p>" }
        page += "<pre>\(e(results.checked.summary))</pre>"

        let blamed = results.checked.failingOperationIDs.prefix(excerptOperationsMax)
        if !blamed.isEmpty {
            page += "<h2>Server logs around the blamed operations</h2>"
            for id in blamed where id < results.history.operations.count {
                let operation = results.history.operations[id]
                let invoked = results.entries[operation.invokeEvent].wallTime
                let completed = operation.completeEvent.map { results.entries[$0].wallTime } ?? invoked
                page += "<h3>operation \(id): process \(operation.process) \(e(operation.f)) \(e(operation.input.description)) → \(e(operation.output?.description ?? operation.outcome.rawValue))</h3>"
                for node in cluster.nodes {
                    let lines = excerpt(
                        logPath: node.logPath, from: invoked.addingTimeInterval(-excerptMarginSeconds),
                        to: completed.addingTimeInterval(excerptMarginSeconds))
                    page += "<p><b>\(e(node.name))</b> (\(e(node.logPath)))</p><pre class=\"log\">\(e(lines.isEmpty ? "(no timestamped lines in this window)" : lines.joined(separator: "\n")))</pre>"
                }
            }
        }
        return page + "</body></html>"
    }

    /// The log lines whose leading timestamp (kvd's `2026-12-07T00:19:38+0000` or etcd's
    /// `2026-12-07 00:19:38.997498`, both UTC here) falls within the window, at most ``excerptLinesMax``.
    static func excerpt(logPath: String, from start: Date, to end: Date) -> [String] {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return [] }
        let parser = DateFormatter()
        parser.locale = Locale(identifier: "en_US_POSIX")
        parser.timeZone = TimeZone(identifier: "UTC")
        parser.dateFormat = "yyyy-MM-dd HH:mm:ss"
        // Second resolution: widen the window by the part of a second the stamp drops.
        let lower = start.addingTimeInterval(-1)
        var lines: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard line.count >= 19 else { continue }
            let stamp = String(line.prefix(19)).replacingOccurrences(of: "T", with: " ")
            guard let time = parser.date(from: stamp), time >= lower, time <= end else { continue }
            lines.append(String(line.prefix(400)))
            if lines.count >= excerptLinesMax { break }
        }
        return lines
    }
}
