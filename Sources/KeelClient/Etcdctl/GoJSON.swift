import Foundation

/// JSON written the way Go's encoding/json writes etcd's response structs, which is what
/// `etcdctl -w json` prints: fields in declaration order, zero values left out (`omitempty`),
/// 64-bit integers as exact numbers, bytes as base64, and <, >, & escaped.
enum GoJSON {
    indirect enum Value {
        case object([(String, Value)])
        case array([Value])
        case string(String)
        case bytes(Data)
        case int(Int64)
        case uint(UInt64)
        case bool(Bool)
        case null

        /// Whether Go's `omitempty` drops the field: false, 0, "", empty slices; never objects.
        var isEmpty: Bool {
            switch self {
            case .object: false
            case .array(let items): items.isEmpty
            case .string(let text): text.isEmpty
            case .bytes(let data): data.isEmpty
            case .int(let number): number == 0
            case .uint(let number): number == 0
            case .bool(let flag): !flag
            case .null: true
            }
        }
    }

    /// An object of the fields that are not empty (every field is `omitempty` in etcd's structs).
    static func object(_ fields: [(String, Value)]) -> Value {
        .object(fields.filter { !$0.1.isEmpty })
    }

    static func encode(_ value: Value) -> String {
        var out = ""
        write(value, to: &out)
        return out
    }

    private static func write(_ value: Value, to out: inout String) {
        switch value {
        case .object(let fields):
            out += "{"
            for (index, (name, field)) in fields.enumerated() {
                if index > 0 { out += "," }
                writeString(name, to: &out)
                out += ":"
                write(field, to: &out)
            }
            out += "}"
        case .array(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                write(item, to: &out)
            }
            out += "]"
        case .string(let text): writeString(text, to: &out)
        case .bytes(let data): writeString(data.base64EncodedString(), to: &out)
        case .int(let number): out += String(number)
        case .uint(let number): out += String(number)
        case .bool(let flag): out += flag ? "true" : "false"
        case .null: out += "null"
        }
    }

    private static func writeString(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<", ">", "&", "\u{2028}", "\u{2029}":
                out += "\\u" + hex4(scalar.value)
            case _ where scalar.value < 0x20:
                out += "\\u" + hex4(scalar.value)
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    private static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
