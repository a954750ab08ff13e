/// A small JSON parser producing `Value`s; objects with plain keys become maps keyed by keywords.
struct JSONParser {
    let bytes: [UInt8]
    let line: Int
    var position = 0

    init(bytes: [UInt8], line: Int) {
        self.bytes = bytes
        self.line = line
    }

    static let nestingDepthMax = 256

    mutating func parseDocument() throws(HistoryError) -> Value {
        let value = try parseValue(depth: 0)
        skipWhitespace()
        guard position == bytes.count else { throw error("unexpected text after the JSON object") }
        return value
    }

    private func error(_ message: String) -> HistoryError {
        HistoryError(code: .syntax, message: message + " (column \(position + 1))", line: line)
    }

    private mutating func skipWhitespace() {
        while position < bytes.count, [0x20, 0x09, 0x0d, 0x0a].contains(bytes[position]) { position += 1 }
    }

    private mutating func expect(_ literal: String) throws(HistoryError) {
        for byte in literal.utf8 {
            guard position < bytes.count, bytes[position] == byte else { throw error("expected '\(literal)'") }
            position += 1
        }
    }

    private mutating func parseValue(depth: Int) throws(HistoryError) -> Value {
        guard depth < Self.nestingDepthMax else { throw error("nesting deeper than \(Self.nestingDepthMax)") }
        skipWhitespace()
        guard position < bytes.count else { throw error("unexpected end of line, expected a value") }
        switch bytes[position] {
        case UInt8(ascii: "n"): try expect("null"); return .nil
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "\""):
            let text = try parseString()
            if text.hasPrefix(":") && text.count > 1 { return .keyword(String(text.dropFirst())) }
            return .string(text)
        case UInt8(ascii: "["):
            return .vector(try parseArray(depth: depth))
        case UInt8(ascii: "{"):
            return try parseObject(depth: depth)
        default:
            return try parseNumber()
        }
    }

    private mutating func parseArray(depth: Int) throws(HistoryError) -> [Value] {
        position += 1
        var items: [Value] = []
        skipWhitespace()
        if position < bytes.count && bytes[position] == UInt8(ascii: "]") {
            position += 1
            return items
        }
        while true {
            items.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            guard position < bytes.count else { throw error("unterminated array") }
            if bytes[position] == UInt8(ascii: "]") {
                position += 1
                return items
            }
            guard bytes[position] == UInt8(ascii: ",") else { throw error("expected ',' or ']'") }
            position += 1
        }
    }

    private mutating func parseObject(depth: Int) throws(HistoryError) -> Value {
        position += 1
        var fields: [(String, Value)] = []
        skipWhitespace()
        if position < bytes.count && bytes[position] == UInt8(ascii: "}") {
            position += 1
        } else {
            while true {
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw error("expected a key") }
                let key = try parseString()
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw error("expected ':'") }
                position += 1
                fields.append((key, try parseValue(depth: depth + 1)))
                skipWhitespace()
                guard position < bytes.count else { throw error("unterminated object") }
                if bytes[position] == UInt8(ascii: "}") {
                    position += 1
                    break
                }
                guard bytes[position] == UInt8(ascii: ",") else { throw error("expected ',' or '}'") }
                position += 1
            }
        }
        if fields.count == 1, let tagged = try untag(fields[0].0, fields[0].1) { return tagged }
        var map: [Value: Value] = [:]
        for (key, value) in fields {
            guard map.updateValue(value, forKey: .keyword(key)) == nil else { throw error("repeated key \"\(key)\"") }
        }
        return .map(map)
    }

    private func untag(_ tag: String, _ payload: Value) throws(HistoryError) -> Value? {
        switch tag {
        case "#string":
            switch payload {
            case .string(let text): return .string(text)
            case .keyword(let name): return .string(":" + name)
            default: throw error("#string needs a string")
            }
        case "#list":
            guard case .vector(let items) = payload else { throw error("#list needs an array") }
            return .list(items)
        case "#set":
            guard case .vector(let items) = payload else { throw error("#set needs an array") }
            return .set(Set(items))
        case "#map":
            guard case .vector(let pairs) = payload else { throw error("#map needs an array of pairs") }
            var map: [Value: Value] = [:]
            for pair in pairs {
                guard case .vector(let kv) = pair, kv.count == 2 else { throw error("#map entries are [key, value]") }
                map[kv[0]] = kv[1]
            }
            return .map(map)
        default:
            return nil
        }
    }

    private mutating func parseString() throws(HistoryError) -> String {
        position += 1
        var out: [UInt8] = []
        while true {
            guard position < bytes.count else { throw error("unterminated string") }
            let byte = bytes[position]
            position += 1
            if byte == UInt8(ascii: "\"") { break }
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                continue
            }
            guard position < bytes.count else { throw error("unterminated string") }
            let escaped = bytes[position]
            position += 1
            switch escaped {
            case UInt8(ascii: "n"): out.append(0x0a)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0d)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0c)
            case UInt8(ascii: "/"), UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(escaped)
            case UInt8(ascii: "u"):
                guard position + 4 <= bytes.count,
                    let code = UInt32(String(decoding: bytes[position..<position + 4], as: UTF8.self), radix: 16),
                    let scalar = Unicode.Scalar(code)
                else { throw error("bad \\u escape") }
                position += 4
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default: throw error("bad string escape")
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private mutating func parseNumber() throws(HistoryError) -> Value {
        let start = position
        while position < bytes.count,
            bytes[position] == UInt8(ascii: "-") || (bytes[position] >= 0x30 && bytes[position] <= 0x39)
        {
            position += 1
        }
        if position < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[position]) {
            throw error("only integers are accepted")
        }
        guard let number = Int(String(decoding: bytes[start..<position], as: UTF8.self)) else {
            throw error("unexpected character")
        }
        return .int(number)
    }
}
