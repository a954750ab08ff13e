/// Reads and writes histories as JSON Lines: one operation object per line.
///
/// Field names are Jepsen's (`process`, `type`, `f`, `value`, `time`, `index`, `error`); the process
/// is a number or `"nemesis"`. Values map to JSON as: nil → null, keyword → `":name"`, vector → array,
/// and the shapes JSON lacks are tagged objects: `{"#list": [...]}`, `{"#set": [...]}`,
/// `{"#map": [[k, v], ...]}`, and a string that starts with a colon `{"#string": ":..."}`.
public enum JSONLinesHistory {
    /// Parses one operation per non-blank line.
    public static func read(_ text: String) throws(HistoryError) -> [Operation] {
        var operations: [Operation] = []
        var lineNumber = 0
        // "\r\n" is one Character in Swift, so both line endings are named explicitly.
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            if rawLine.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { continue }
            var parser = JSONParser(bytes: Array(rawLine.utf8), line: lineNumber)
            let value = try parser.parseDocument()
            operations.append(try OperationDecoder.decode(value, line: lineNumber))
        }
        return operations
    }

    /// Writes one JSON object per line.
    public static func write(_ operations: [Operation]) -> String {
        var out = ""
        for operation in operations {
            out += "{\"process\":"
            switch operation.process {
            case .client(let number): out += String(number)
            case .nemesis: out += "\"nemesis\""
            }
            out += ",\"type\":\"" + operation.type.rawValue + "\",\"f\":"
            JSONWriter.writeString(operation.f, into: &out)
            out += ",\"value\":"
            JSONWriter.write(operation.value, into: &out)
            if let time = operation.time { out += ",\"time\":\(time)" }
            if let index = operation.index { out += ",\"index\":\(index)" }
            if let error = operation.error {
                out += ",\"error\":"
                JSONWriter.write(error, into: &out)
            }
            out += "}\n"
        }
        return out
    }
}
