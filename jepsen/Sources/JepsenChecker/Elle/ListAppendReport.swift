/// Plain-text and JSON renderings of a `ListAppendResult`; each class shows at most
/// `ListAppendResult.reportedAnomaliesPerClassMax` anomalies, counts are exact.
extension ListAppendResult {
    /// A few lines a person can read: the verdict, counts per class, and each shown anomaly with its
    /// transactions and edges.
    public var summary: String {
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        var lines = [
            "\(verdict.rawValue): list-append, \(transactionCount) transaction(s), \(dependencyEdgeCount) dependency "
                + "edge(s), \(cyclicComponentCount) cyclic component(s), \((milliseconds * 100).rounded() / 100) ms"
        ]
        if let unknownReason { lines.append("  stopped: \(unknownReason)") }
        let counts = anomalyCounts
        for anomalyClass in ListAppendAnomalyClass.all {
            guard let count = counts[anomalyClass] else { continue }
            lines.append("  \(anomalyClass): \(count)")
            for anomaly in anomalies(of: anomalyClass).prefix(Self.reportedAnomaliesPerClassMax) {
                lines.append("    \(anomaly.explanation)")
                for operation in anomaly.operations {
                    lines.append("      T\(operation.id) (process \(operation.process), \(operation.outcome.rawValue)): \(operation.value)")
                }
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The result as one JSON object; transaction values are EDN text in JSON strings.
    public var json: String {
        var out = "{\"checker\":\"list-append\",\"verdict\":\"\(verdict.rawValue)\",\"valid\":"
        out += verdict == .valid ? "true" : verdict == .invalid ? "false" : "null"
        let nanoseconds = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        out += ",\"transaction_count\":\(transactionCount),\"dependency_edge_count\":\(dependencyEdgeCount)"
        out += ",\"cyclic_component_count\":\(cyclicComponentCount),\"elapsed_ns\":\(nanoseconds),\"unknown_reason\":"
        if let unknownReason { JSONWriter.writeString(unknownReason, into: &out) } else { out += "null" }
        let counts = anomalyCounts
        let present = ListAppendAnomalyClass.all.filter { counts[$0] != nil }
        out += ",\"anomaly_counts\":{"
        out += present.map { "\"\($0.name)\":\(counts[$0]!)" }.joined(separator: ",")
        out += "},\"anomalies\":{"
        for (classIndex, anomalyClass) in present.enumerated() {
            if classIndex > 0 { out += "," }
            out += "\"\(anomalyClass.name)\":["
            for (index, anomaly) in anomalies(of: anomalyClass).prefix(Self.reportedAnomaliesPerClassMax).enumerated() {
                if index > 0 { out += "," }
                Self.write(anomaly, into: &out)
            }
            out += "]"
        }
        out += "}}"
        return out
    }

    private static func write(_ anomaly: ListAppendAnomaly, into out: inout String) {
        out += "{\"operations\":["
        for (index, operation) in anomaly.operations.enumerated() {
            if index > 0 { out += "," }
            out += "{\"id\":\(operation.id),\"process\":\(operation.process),\"outcome\":\"\(operation.outcome.rawValue)\",\"value\":"
            JSONWriter.writeString(operation.value.description, into: &out)
            out += "}"
        }
        out += "],\"edges\":["
        for (index, edge) in anomaly.edges.enumerated() {
            if index > 0 { out += "," }
            out += "{\"from\":\(edge.from),\"to\":\(edge.to),\"kind\":\"\(edge.kind.rawValue)\""
            out += ",\"key\":\(optional(edge.key)),\"element\":\(optional(edge.element))"
            out += ",\"next_element\":\(optional(edge.nextElement)),\"explanation\":"
            JSONWriter.writeString(edge.explanation, into: &out)
            out += "}"
        }
        out += "],\"key\":\(optional(anomaly.key)),\"explanation\":"
        JSONWriter.writeString(anomaly.explanation, into: &out)
        out += "}"
    }

    private static func optional(_ number: Int?) -> String { number.map(String.init) ?? "null" }
}
