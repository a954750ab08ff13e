/// Plain-text and JSON summaries of a `CheckResult`, for terminals and machines.
public enum TextReport {
    /// A few lines a person can read: the verdict, and for an invalid history what went wrong.
    public static func summary(_ result: CheckResult, history: History, name: String) -> String {
        let checked = history.operations.filter { $0.outcome != .fail }.count
        let milliseconds = Double(result.elapsed.components.attoseconds) / 1e15
            + Double(result.elapsed.components.seconds) * 1000
        let timing = "\(checked) operations, \(result.partitions.count) partition(s), "
            + "\((milliseconds * 100).rounded() / 100) ms"
        var lines: [String]
        switch result.verdict {
        case .valid:
            lines = ["valid: \(name) is linearizable under \(result.model) (\(timing))"]
        case .unknown:
            let why = result.unknownReason?.message ?? "it stopped at a limit"
            lines = ["unknown: the search for \(name) under \(result.model) did not decide: \(why) (\(timing))"]
        case .invalid:
            lines = ["invalid: \(name) is not linearizable under \(result.model) (\(timing))"]
            if let partition = result.firstInvalidPartition, let failing = partition.failingOperationID {
                let operation = history.operations[failing]
                if let key = partition.key { lines.append("  key: \(key)") }
                lines.append(
                    "  cannot linearize: operation \(failing) by process \(operation.process) "
                        + "(line \(history.events[operation.invokeEvent].line)): \(result.operationDescriptions[failing])")
                lines.append("  longest linearizable prefix: \(partition.linearization.count) operation(s)")
                lines.append("  states the model could be in when it had to take effect: \(partition.possibleStates.joined(separator: ", "))")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The result as one JSON object.
    public static func json(_ result: CheckResult, history: History, name: String) -> String {
        var out = "{\"file\":"
        JSONWriter.writeString(name, into: &out)
        out += ",\"model\":"
        JSONWriter.writeString(result.model, into: &out)
        out += ",\"verdict\":\"\(result.verdict.rawValue)\",\"valid\":"
        out += result.verdict == .valid ? "true" : result.verdict == .invalid ? "false" : "null"
        let nanoseconds = result.elapsed.components.seconds * 1_000_000_000 + result.elapsed.components.attoseconds / 1_000_000_000
        out += ",\"elapsed_ns\":\(nanoseconds),\"operations\":\(history.operations.count),\"partitions\":["
        for (index, partition) in result.partitions.enumerated() {
            if index > 0 { out += "," }
            out += "{\"key\":"
            JSONWriter.write(partition.key ?? .nil, into: &out)
            out += ",\"verdict\":\"\(partition.verdict.rawValue)\",\"operations\":\(partition.operationIDs.count)"
            out += ",\"search_steps\":\(partition.searchSteps)"
            if let failing = partition.failingOperationID {
                let operation = history.operations[failing]
                out += ",\"failing_operation\":{\"id\":\(failing),\"process\":\(operation.process),\"f\":"
                JSONWriter.writeString(operation.f, into: &out)
                out += ",\"line\":\(history.events[operation.invokeEvent].line),\"description\":"
                JSONWriter.writeString(result.operationDescriptions[failing], into: &out)
                out += "}"
            }
            if partition.verdict == .invalid {
                out += ",\"linearized_prefix\":[" + partition.linearization.map { String($0.operationID) }.joined(separator: ",")
                out += "],\"possible_states\":["
                for (stateIndex, state) in partition.possibleStates.enumerated() {
                    if stateIndex > 0 { out += "," }
                    JSONWriter.writeString(state, into: &out)
                }
                out += "]"
            }
            out += "}"
        }
        out += "]}"
        return out
    }
}
