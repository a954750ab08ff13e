/// Writes values and histories as EDN that `EDNReader` (and Clojure) read back unchanged.
public enum EDNWriter {
    /// One value as EDN text. Map and set entries are sorted by their text so output is stable.
    public static func write(_ value: Value) -> String {
        var out = ""
        write(value, into: &out)
        return out
    }

    /// Appends `value` as EDN to `out`.
    public static func write(_ value: Value, into out: inout String) {
        switch value {
        case .nil: out += "nil"
        case .bool(let flag): out += flag ? "true" : "false"
        case .int(let number): out += String(number)
        case .string(let text): writeString(text, into: &out)
        case .keyword(let name): out += ":" + name
        case .vector(let items): writeSequence(items, open: "[", close: "]", into: &out)
        case .list(let items): writeSequence(items, open: "(", close: ")", into: &out)
        case .set(let items): writeSequence(items.map(write).sorted(), open: "#{", close: "}", into: &out)
        case .map(let entries):
            let pairs = entries.map { write($0.key) + " " + write($0.value) }.sorted()
            writeSequence(pairs, open: "{", close: "}", into: &out)
        }
    }

    private static func writeSequence(_ items: [Value], open: String, close: String, into out: inout String) {
        out += open
        for (index, item) in items.enumerated() {
            if index > 0 { out += " " }
            write(item, into: &out)
        }
        out += close
    }

    private static func writeSequence(_ texts: [String], open: String, close: String, into out: inout String) {
        out += open + texts.joined(separator: ", ") + close
    }

    private static func writeString(_ text: String, into out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
