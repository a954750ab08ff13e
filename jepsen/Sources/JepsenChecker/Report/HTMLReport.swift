/// A self-contained HTML page explaining a check: verdict banner, timeline, plots and, for an invalid
/// history, the operation that cannot be linearized with the longest prefix that can.
///
/// Everything is inline (CSS, SVG, a little JavaScript for hover details) so the file can be mailed,
/// archived with a CI run, or opened without a network.
public enum HTMLReport {
    static let rowHeightPixels = 20.0
    static let barHeightPixels = 13.0
    static let labelWidthPixels = 90.0
    static let eventWidthPixelsMin = 7.0
    static let eventWidthPixelsMax = 40.0
    static let timelineTargetWidthPixels = 1250.0
    static let prefixRowsShownMax = 12
    /// Beyond this many events the timeline shows a window (around the failing operation, if any),
    /// because browsers cannot lay out an SVG hundreds of thousands of pixels wide.
    static let timelineEventsMax = 3000

    /// Renders the page for `result`, a check of `history` read from the file called `name`.
    public static func render(_ result: CheckResult, history: History, name: String) -> String {
        let geometry = ReportGeometry(history: history)
        let plots = SVGPlots(geometry: geometry)
        var page = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        page += "<title>Linearizability report: \(escape(name))</title><style>\(HTMLReportAssets.css)</style></head><body>"
        page += "<h1>Linearizability report <span class=\"file\">\(escape(name))</span></h1>"
        page += banner(result, history: history)
        page += "<p class=\"intro\">Keel's checker replays a history recorded by a Jepsen-style test: clients invoke "
            + "operations concurrently and each one completes with <b>ok</b> (it happened, with this result), "
            + "<b>fail</b> (it certainly did not happen) or <b>info</b> (unknown: it may have happened at any time "
            + "after its invocation, or never). The history is <i>linearizable</i> if every operation can be given "
            + "a single instant between its invocation and its completion so that, in that order, the results "
            + "match a single copy of the model (<b>\(escape(result.model))</b>, starting at <code>\(escape(result.initialState))</code>).</p>"
        page += facts(result, history: history, geometry: geometry)
        page += explanation(result, history: history)
        page += "<h2>Timeline</h2><p class=\"hint\">One row per client process; time runs left to right in the order "
            + "events were recorded. Hover over a bar for its details and the model state before and after it.</p>"
        page += legend(result)
        let window = timelineWindow(result, history: history)
        if window.count < history.events.count {
            page += "<p class=\"hint\"><b>Showing events \(window.lowerBound + 1)–\(window.upperBound) of "
                + "\(history.events.count)</b>\(result.verdict == .invalid ? ", around the operation that cannot be linearized" : "").</p>"
        }
        page += timeline(result, history: history, geometry: geometry, window: window)
        page += "<h2>Latency</h2><p class=\"hint\">Each dot is an answered operation at its invocation time. "
            + "Shaded: fault injected by the nemesis.</p>" + plots.latency()
        page += "<h2>Throughput</h2><p class=\"hint\">Completed operations over time, by outcome. "
            + "Shaded: fault injected by the nemesis.</p>" + plots.throughput()
        page += "<div id=\"tip\"></div>"
        page += "<script>const OPS=\(operationsJSON(result, history: history, geometry: geometry, window: window));\(HTMLReportAssets.script)</script>"
        page += "</body></html>"
        return page
    }

    /// Escapes text for HTML element content and attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }

    private static func banner(_ result: CheckResult, history: History) -> String {
        switch result.verdict {
        case .valid:
            return "<div class=\"banner valid\">✔ VALID: the history is linearizable</div>"
        case .invalid:
            return "<div class=\"banner invalid\">✘ INVALID: the history is not linearizable</div>"
        case .unknown:
            let why = result.unknownReason?.message ?? "it stopped at a limit"
            return "<div class=\"banner unknown\">? UNKNOWN: the search did not decide: \(escape(why)) "
                + "(this is not a verdict either way)</div>"
        }
    }

    private static func facts(_ result: CheckResult, history: History, geometry: ReportGeometry) -> String {
        let counts = Dictionary(grouping: history.operations, by: \.outcome).mapValues(\.count)
        let processes = Set(history.operations.map(\.process)).count
        let milliseconds = Double(result.elapsed.components.seconds) * 1000
            + Double(result.elapsed.components.attoseconds) / 1e15
        return "<table class=\"facts\"><tr><th>model</th><td>\(escape(result.model))</td><th>operations</th><td>"
            + "\(history.operations.count) (ok \(counts[.ok] ?? 0), fail \(counts[.fail] ?? 0), info/unanswered \(counts[.info] ?? 0))</td></tr>"
            + "<tr><th>processes</th><td>\(processes)</td><th>partitions checked</th><td>\(result.partitions.count)</td></tr>"
            + "<tr><th>nemesis faults</th><td>\(geometry.intervals.count)</td><th>search time</th><td>"
            + "\(SVGPlots.format(milliseconds)) ms</td></tr></table>"
    }

    private static func explanation(_ result: CheckResult, history: History) -> String {
        guard let partition = result.firstInvalidPartition, let failing = partition.failingOperationID else {
            if result.verdict == .valid {
                return "<p class=\"explain\">A valid order exists for every operation. Hover over a bar to see "
                    + "where it falls in that order and the model state around it.</p>"
            }
            return result.verdict == .unknown
                ? "<p class=\"explain\">Run again with a longer time limit to get a verdict.</p>" : ""
        }
        let operation = history.operations[failing]
        let line = history.events[operation.invokeEvent].line
        var html = "<div class=\"explain bad\"><p><b>Why:</b> the checker could order at most "
            + "<b>\(partition.linearization.count)</b> operation(s)\(partition.key.map { " on key <code>\(escape(EDNWriter.write($0)))</code>" } ?? "") "
            + "(outlined in blue on the timeline, listed below). Then operation <b>#\(failing)</b> by process "
            + "\(operation.process), <code>\(escape(result.operationDescriptions[failing]))</code> (history line \(line), "
            + "outlined in red), must already have taken effect, but every consistent order leaves the model in state "
            + partition.possibleStates.map { "<code>\(escape($0))</code>" }.joined(separator: " or ")
            + " at that point, where its result is impossible.</p>"
        let shown = partition.linearization.suffix(prefixRowsShownMax)
        html += "<table class=\"prefix\"><tr><th>order</th><th>op</th><th>process</th><th>operation</th><th>state before</th><th>state after</th></tr>"
        if shown.count < partition.linearization.count {
            html += "<tr><td colspan=\"6\" class=\"hint\">… \(partition.linearization.count - shown.count) earlier operation(s) omitted</td></tr>"
        }
        let startOrder = partition.linearization.count - shown.count
        for (offset, step) in shown.enumerated() {
            html += "<tr><td>\(startOrder + offset + 1)</td><td>#\(step.operationID)</td><td>\(history.operations[step.operationID].process)</td>"
                + "<td><code>\(escape(result.operationDescriptions[step.operationID]))</code></td>"
                + "<td><code>\(escape(step.stateBefore))</code></td><td><code>\(escape(step.stateAfter))</code></td></tr>"
        }
        html += "<tr class=\"failrow\"><td>✘</td><td>#\(failing)</td><td>\(operation.process)</td><td><code>"
            + "\(escape(result.operationDescriptions[failing]))</code></td><td colspan=\"2\">illegal in "
            + partition.possibleStates.map { "<code>\(escape($0))</code>" }.joined(separator: ", ") + "</td></tr></table></div>"
        return html
    }

    private static func legend(_ result: CheckResult) -> String {
        var html = "<div class=\"legend\"><span><i class=\"sw ok\"></i>ok</span><span><i class=\"sw fail\"></i>fail (did not happen)</span>"
            + "<span><i class=\"sw info\"></i>info / unanswered (may happen until the end)</span>"
            + "<span><i class=\"sw nem\"></i>nemesis fault active</span>"
        if result.verdict == .invalid {
            html += "<span><i class=\"sw lin\"></i>in the longest linearizable prefix (number = order)</span>"
                + "<span><i class=\"sw bad\"></i>cannot be linearized</span>"
        }
        return html + "</div>"
    }

    /// The events the timeline draws: all of them, or `timelineEventsMax` around the failing operation.
    static func timelineWindow(_ result: CheckResult, history: History) -> Range<Int> {
        let count = history.events.count
        guard count > timelineEventsMax else { return 0..<count }
        let center = result.firstInvalidPartition?.failingOperationID.map { history.operations[$0].invokeEvent } ?? 0
        let low = max(0, min(center - timelineEventsMax / 2, count - timelineEventsMax))
        return low..<(low + timelineEventsMax)
    }

    /// Whether an operation's bar overlaps the window.
    private static func isShown(_ operation: HistoryOperation, in window: Range<Int>, eventCount: Int) -> Bool {
        let end = operation.outcome == .info ? eventCount : operation.completeEvent!
        return operation.invokeEvent < window.upperBound && end >= window.lowerBound
    }

    private static func timeline(
        _ result: CheckResult, history: History, geometry: ReportGeometry, window: Range<Int>
    ) -> String {
        let shown = history.operations.filter { isShown($0, in: window, eventCount: history.events.count) }
        let processes = Array(Set(shown.map(\.process))).sorted()
        let row = Dictionary(uniqueKeysWithValues: processes.enumerated().map { ($1, $0) })
        let eventCount = max(window.count, 1)
        let eventWidth = min(eventWidthPixelsMax, max(eventWidthPixelsMin, timelineTargetWidthPixels / Double(eventCount)))
        let axisHeight = 22.0
        var width = Double(eventCount + 1) * eventWidth + 14
        let height = axisHeight + Double(processes.count) * rowHeightPixels + 6
        func x(_ event: Int) -> Double {
            4 + Double(min(max(event, window.lowerBound), window.upperBound) - window.lowerBound) * eventWidth
        }
        let invalid = result.firstInvalidPartition
        var order: [Int: Int] = [:]
        for (index, step) in (invalid?.linearization ?? []).enumerated() { order[step.operationID] = index + 1 }
        let failingID = invalid?.failingOperationID
        let invalidMembers = Set(invalid?.operationIDs ?? [])

        // The width may grow to fit the failing operation's label, so the tag is finished at the end.
        var svg = ""
        for (index, _) in processes.enumerated() where index % 2 == 1 {
            svg += "<rect class=\"stripe\" x=\"0\" y=\"\(SVGPlots.f1(axisHeight + Double(index) * rowHeightPixels))\" width=\"100%\" height=\"\(rowHeightPixels)\"/>"
        }
        for interval in geometry.intervals where interval.startEvent < window.upperBound && interval.endEvent >= window.lowerBound {
            let start = x(interval.startEvent)
            svg += "<rect class=\"nemesis\" x=\"\(SVGPlots.f1(start))\" y=\"0\" width=\"\(SVGPlots.f1(max(x(interval.endEvent) - start, 2)))\" height=\"\(SVGPlots.f1(height))\"><title>nemesis: \(escape(interval.label))</title></rect>"
            svg += "<text class=\"nemlabel\" x=\"\(SVGPlots.f1(start + 3))\" y=\"12\">\(escape(String(interval.label.prefix(40))))</text>"
        }
        var badLabel = ""
        for operation in shown {
            let y = axisHeight + Double(row[operation.process]!) * rowHeightPixels + (rowHeightPixels - barHeightPixels) / 2
            let start = x(operation.invokeEvent)
            let endEvent = operation.outcome == .info ? history.events.count : operation.completeEvent!
            let barWidth = max(x(endEvent) - start, 3)
            var classes = "op \(operation.outcome.rawValue)"
            if order[operation.id] != nil { classes += " lin" }
            if operation.id == failingID { classes += " bad" }
            if invalid != nil && order[operation.id] == nil && operation.id != failingID
                && (invalidMembers.contains(operation.id) || operation.outcome == .fail)
            {
                classes += " dim"
            }
            svg += "<g class=\"\(classes)\" data-op=\"\(operation.id)\"><rect x=\"\(SVGPlots.f1(start))\" y=\"\(SVGPlots.f1(y))\" width=\"\(SVGPlots.f1(barWidth))\" height=\"\(barHeightPixels)\" rx=\"2\"/>"
            if let completeEvent = operation.completeEvent, operation.outcome == .info {
                svg += "<line class=\"infotick\" x1=\"\(SVGPlots.f1(x(completeEvent)))\" x2=\"\(SVGPlots.f1(x(completeEvent)))\" y1=\"\(SVGPlots.f1(y))\" y2=\"\(SVGPlots.f1(y + barHeightPixels))\"/>"
            }
            var label = shortLabel(operation)
            if let number = order[operation.id] { label = "\(number): " + label }
            if operation.id == failingID {
                // Beside the bar, not inside it: the illegal operation must be readable however short it is.
                let text = "✘ \(result.operationDescriptions[operation.id]): cannot be linearized"
                width = max(width, start + barWidth + Double(text.count) * 7.4 + 20)
                badLabel = "<rect class=\"badback\" x=\"\(SVGPlots.f1(start + barWidth + 2))\" y=\"\(SVGPlots.f1(y - 1))\" "
                    + "width=\"\(SVGPlots.f1(Double(text.count) * 7.4 + 6))\" height=\"\(barHeightPixels + 2)\" rx=\"3\"/>"
                    + "<text class=\"badlabel\" x=\"\(SVGPlots.f1(start + barWidth + 5))\" y=\"\(SVGPlots.f1(y + 10))\">"
                    + "\(escape(text))</text>"
            } else if barWidth >= Double(label.count) * 6.2 + 4 {
                svg += "<text x=\"\(SVGPlots.f1(start + 2))\" y=\"\(SVGPlots.f1(y + 10))\">\(escape(label))</text>"
            }
            svg += "</g>"
        }
        svg += badLabel
        svg = "<svg id=\"timeline\" width=\"\(SVGPlots.f1(width))\" height=\"\(SVGPlots.f1(height))\">" + svg
        var labels = "<svg class=\"labels\" width=\"\(labelWidthPixels)\" height=\"\(SVGPlots.f1(height))\">"
        for (index, process) in processes.enumerated() {
            labels += "<text x=\"\(labelWidthPixels - 8)\" y=\"\(SVGPlots.f1(axisHeight + Double(index) * rowHeightPixels + 14))\" text-anchor=\"end\">process \(process)</text>"
        }
        labels += "</svg>"
        return "<div class=\"tl\">" + labels + "<div class=\"scroll\">" + svg + "</svg></div></div>"
    }

    /// A bar label: `w 3`, `r 3`, `cas 1→2`, or the function name.
    private static func shortLabel(_ operation: HistoryOperation) -> String {
        switch operation.f {
        case "read": return "r " + (operation.output.map { EDNWriter.write($0) } ?? "?")
        case "write": return "w " + EDNWriter.write(operation.input)
        case "cas":
            if let pair = operation.input.elements, pair.count == 2 {
                return "cas \(EDNWriter.write(pair[0]))→\(EDNWriter.write(pair[1]))"
            }
            return "cas"
        case "txn":
            guard let micros = (operation.output ?? operation.input).elements else { return "txn" }
            return micros.map { micro -> String in
                guard let parts = micro.elements, parts.count == 3 else { return "?" }
                let kind = parts[0].keywordName == "write" ? "w" : "r"
                let key = parts[1].keywordName ?? EDNWriter.write(parts[1])
                return kind + key + (parts[2].isNil ? "?" : EDNWriter.write(parts[2]))
            }.joined(separator: " ")
        default: return operation.f
        }
    }

    /// Hover details, keyed by operation id, for the operations the timeline draws.
    private static func operationsJSON(
        _ result: CheckResult, history: History, geometry: ReportGeometry, window: Range<Int>
    ) -> String {
        var steps: [Int: (order: Int, step: LinearizedOperation)] = [:]
        for partition in result.partitions where partition.verdict != .unknown {
            for (index, step) in partition.linearization.enumerated() { steps[step.operationID] = (index + 1, step) }
        }
        var out = "{"
        for operation in history.operations where isShown(operation, in: window, eventCount: history.events.count) {
            if out.count > 1 { out += "," }
            let invoke = history.events[operation.invokeEvent]
            out += "\"\(operation.id)\":{\"id\":\(operation.id),\"p\":\(operation.process),\"o\":\"\(operation.outcome.rawValue)\",\"d\":"
            JSONWriter.writeString(result.operationDescriptions[operation.id], into: &out)
            out += ",\"line\":\(invoke.line)"
            if let complete = operation.completeEvent {
                out += ",\"cline\":\(history.events[complete].line)"
                if let error = history.events[complete].error {
                    out += ",\"err\":"
                    JSONWriter.writeString(EDNWriter.write(error), into: &out)
                }
            }
            if let latency = geometry.latency(of: operation) {
                out += ",\"lat\":\"\(SVGPlots.format(latency)) \(geometry.hasTime ? "ms" : "events")\""
            }
            if let invalid = result.firstInvalidPartition, invalid.failingOperationID == operation.id {
                out += ",\"bad\":"
                JSONWriter.writeString(invalid.possibleStates.joined(separator: " or "), into: &out)
            }
            if let (order, step) = steps[operation.id] {
                out += ",\"ord\":\(order),\"sb\":"
                JSONWriter.writeString(step.stateBefore, into: &out)
                out += ",\"sa\":"
                JSONWriter.writeString(step.stateAfter, into: &out)
            }
            out += "}"
        }
        return (out + "}").replacingOccurrences(of: "</", with: "<\\/")
    }
}
