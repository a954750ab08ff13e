/// Reads the subset of EDN that Jepsen histories use, remembering line numbers for error messages.
///
/// Supported: `nil`, `true`, `false`, integers, strings, keywords, vectors, lists, maps, sets,
/// `;` comments and commas as whitespace. Anything else (floats, symbols, tagged literals,
/// characters) is rejected with the line and the reason rather than guessed at.
public struct EDNReader {
    private let bytes: [UInt8]
    private var position = 0
    /// The 1-based line the reader is on; after `skipWhitespace()`, the line of the next value.
    public private(set) var line = 1

    /// Deepest nesting accepted, so a hostile file cannot overflow the stack.
    public static let nestingDepthMax = 256

    /// Prepares to read `text`.
    public init(_ text: String) {
        bytes = Array(text.utf8)
    }

    /// Parses a whole string holding exactly one value, e.g. `--initial {:x 0 :y 0}`.
    public static func parse(_ text: String) throws(HistoryError) -> Value {
        var reader = EDNReader(text)
        reader.skipWhitespace()
        let value = try reader.readValue()
        reader.skipWhitespace()
        guard reader.atEnd else { throw reader.error("unexpected text after the value") }
        return value
    }

    /// True once only whitespace and comments are left (call `skipWhitespace()` first).
    public var atEnd: Bool { position >= bytes.count }

    /// The next byte, nil at the end.
    public var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

    /// Consumes one byte; used by callers that walk the outer collection themselves.
    public mutating func advance() {
        precondition(position < bytes.count, "advance past the end")
        if bytes[position] == UInt8(ascii: "\n") { line += 1 }
        position += 1
    }

    /// Skips whitespace, commas and `;` comments.
    public mutating func skipWhitespace() {
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: ";") {
                while position < bytes.count && bytes[position] != UInt8(ascii: "\n") { position += 1 }
            } else if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: ",")
                || byte == UInt8(ascii: "\r") {
                position += 1
            } else if byte == UInt8(ascii: "\n") {
                line += 1
                position += 1
            } else {
                return
            }
        }
    }

    /// Reads one value starting at the next non-blank byte.
    public mutating func readValue() throws(HistoryError) -> Value {
        try readValue(depth: 0)
    }

    /// Reads a map as its entries in file order, without hashing: the fast path for operation maps,
    /// which have a handful of keys that a linear scan finds sooner than a dictionary lookup.
    public mutating func readMapEntries() throws(HistoryError) -> [(key: Value, value: Value)]? {
        skipWhitespace()
        guard peek == UInt8(ascii: "{") else { return nil }
        let startLine = line
        advance()
        var entries: [(key: Value, value: Value)] = []
        entries.reserveCapacity(8)
        while true {
            skipWhitespace()
            guard let byte = peek else { throw error("unexpected end of input, missing '}'") }
            if byte == UInt8(ascii: "}") {
                advance()
                return entries
            }
            let key = try readValue(depth: 1)
            skipWhitespace()
            if peek == UInt8(ascii: "}") {
                throw HistoryError(code: .syntax, message: "map has a key without a value", line: startLine)
            }
            let value = try readValue(depth: 1)
            if entries.contains(where: { $0.key == key }) {
                throw HistoryError(code: .syntax, message: "map repeats the key \(key)", line: startLine)
            }
            entries.append((key, value))
        }
    }

    /// An error at the current line.
    func error(_ message: String) -> HistoryError {
        HistoryError(code: .syntax, message: message, line: line)
    }

    private mutating func readValue(depth: Int) throws(HistoryError) -> Value {
        guard depth < Self.nestingDepthMax else { throw error("nesting deeper than \(Self.nestingDepthMax)") }
        skipWhitespace()
        guard let byte = peek else { throw error("unexpected end of input, expected a value") }
        switch byte {
        case UInt8(ascii: "["):
            advance()
            return .vector(try readSequence(until: UInt8(ascii: "]"), depth: depth))
        case UInt8(ascii: "("):
            advance()
            return .list(try readSequence(until: UInt8(ascii: ")"), depth: depth))
        case UInt8(ascii: "{"):
            advance()
            let startLine = line
            let items = try readSequence(until: UInt8(ascii: "}"), depth: depth)
            guard items.count % 2 == 0 else {
                throw HistoryError(code: .syntax, message: "map has a key without a value", line: startLine)
            }
            var map: [Value: Value] = [:]
            for index in stride(from: 0, to: items.count, by: 2) {
                guard map.updateValue(items[index + 1], forKey: items[index]) == nil else {
                    throw HistoryError(code: .syntax, message: "map repeats the key \(items[index])", line: startLine)
                }
            }
            return .map(map)
        case UInt8(ascii: "#"):
            advance()
            guard peek == UInt8(ascii: "{") else { throw error("tagged literals (#...) are not supported") }
            advance()
            return .set(Set(try readSequence(until: UInt8(ascii: "}"), depth: depth)))
        case UInt8(ascii: "\""):
            return .string(try readString())
        case UInt8(ascii: ":"):
            advance()
            let name = readToken()
            guard !name.isEmpty else { throw error("empty keyword") }
            return .keyword(name)
        case UInt8(ascii: "]"), UInt8(ascii: ")"), UInt8(ascii: "}"):
            throw error("unexpected '\(Character(UnicodeScalar(byte)))'")
        default:
            return try readAtom()
        }
    }

    private mutating func readSequence(until close: UInt8, depth: Int) throws(HistoryError) -> [Value] {
        var items: [Value] = []
        while true {
            skipWhitespace()
            guard let byte = peek else { throw error("unexpected end of input, missing '\(Character(UnicodeScalar(close)))'") }
            if byte == close {
                advance()
                return items
            }
            items.append(try readValue(depth: depth + 1))
        }
    }

    private mutating func readString() throws(HistoryError) -> String {
        advance()  // opening quote
        var out: [UInt8] = []
        while true {
            guard let byte = peek else { throw error("unterminated string") }
            advance()
            if byte == UInt8(ascii: "\"") { break }
            if byte == UInt8(ascii: "\\") {
                guard let escaped = peek else { throw error("unterminated string") }
                advance()
                switch escaped {
                case UInt8(ascii: "n"): out.append(UInt8(ascii: "\n"))
                case UInt8(ascii: "t"): out.append(UInt8(ascii: "\t"))
                case UInt8(ascii: "r"): out.append(UInt8(ascii: "\r"))
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(escaped)
                default: throw error("unsupported string escape \\\(Character(UnicodeScalar(escaped)))")
                }
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func isDelimiter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: ","),
            UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "{"),
            UInt8(ascii: "}"), UInt8(ascii: "\""), UInt8(ascii: ";"):
            return true
        default:
            return false
        }
    }

    private mutating func readToken() -> String {
        let start = position
        while let byte = peek, !Self.isDelimiter(byte) { position += 1 }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    private mutating func readAtom() throws(HistoryError) -> Value {
        let token = readToken()
        switch token {
        case "nil": return .nil
        case "true": return .bool(true)
        case "false": return .bool(false)
        case "": throw error("unexpected character '\(Character(UnicodeScalar(peek ?? 32)))'")
        default: break
        }
        var digits = Substring(token)
        if digits.hasSuffix("N") { digits = digits.dropLast() }  // Clojure's bigint marker
        if let number = Int(digits) { return .int(number) }
        if token.first.map({ $0.isNumber || $0 == "-" || $0 == "+" }) == true {
            throw error("unsupported number '\(token)' (only integers are accepted)")
        }
        throw error("unsupported symbol '\(token)'")
    }
}
