/// Writes `Value`s as JSON using the tagged encoding documented on `JSONLinesHistory`.
public enum JSONWriter {
    /// One value as JSON text.
    public static func write(_ value: Value) -> String {
        var out = ""
        write(value, into: &out)
        return out
    }

    /// Appends `value` as JSON to `out`.
    public static func write(_ value: Value, into out: inout String) {
        switch value {
        case .nil: out += "null"
        case .bool(let flag): out += flag ? "true" : "false"
        case .int(let number): out += String(number)
        case .string(let text):
            if text.hasPrefix(":") {
                out += "{\"#string\":"
                writeString(text, into: &out)
                out += "}"
            } else {
                writeString(text, into: &out)
            }
        case .keyword(let name): writeString(":" + name, into: &out)
        case .vector(let items): writeArray(items, into: &out)
        case .list(let items):
            out += "{\"#list\":"
            writeArray(items, into: &out)
            out += "}"
        case .set(let items):
            out += "{\"#set\":"
            writeArray(items.sorted { EDNWriter.write($0) < EDNWriter.write($1) }, into: &out)
            out += "}"
        case .map(let entries):
            out += "{\"#map\":"
            let pairs = entries.sorted { EDNWriter.write($0.key) < EDNWriter.write($1.key) }
            writeArray(pairs.map { .vector([$0.key, $0.value]) }, into: &out)
            out += "}"
        }
    }

    /// Appends a JSON string literal.
    public static func writeString(_ text: String, into out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    private static func writeArray(_ items: [Value], into out: inout String) {
        out += "["
        for (index, item) in items.enumerated() {
            if index > 0 { out += "," }
            write(item, into: &out)
        }
        out += "]"
    }
}
