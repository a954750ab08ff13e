/// Go's quoted-string syntax, which etcdctl's txn format uses for keys and values (`"a\x00b"`, `` `raw` ``).
enum GoQuoted {
    /// Why a quoted string could not be read.
    struct Failure: Error {
        var reason: String
    }

    /// Reads one quoted string at the start of `text` and returns its bytes and what follows it.
    /// Double quotes take Go's escapes; backquotes take the text as it is; single quotes (an
    /// etcdctl habit in request lines) take the text as it is as well.
    static func read(_ text: Substring) throws(Failure) -> (bytes: [UInt8], rest: Substring) {
        guard let open = text.first else { throw Failure(reason: "expected a quoted string, found the end of the line") }
        switch open {
        case "`", "'":
            let body = text.dropFirst()
            guard let close = body.firstIndex(of: open) else {
                throw Failure(reason: "the string opened with \(open) is not closed")
            }
            return (Array(body[..<close].utf8), body[body.index(after: close)...])
        case "\"":
            return try readEscaped(text.dropFirst())
        default:
            throw Failure(reason: "expected a quoted string, found '\(text.prefix(16))'")
        }
    }

    private static func readEscaped(_ text: Substring) throws(Failure) -> (bytes: [UInt8], rest: Substring) {
        var bytes: [UInt8] = []
        var scalars = text.unicodeScalars[...]
        while let scalar = scalars.popFirst() {
            switch scalar {
            case "\"":
                return (bytes, Substring(scalars))
            case "\n":
                throw Failure(reason: "a line break inside a quoted string")
            case "\\":
                guard let escape = scalars.popFirst() else { throw Failure(reason: "the string ends in a lone backslash") }
                switch escape {
                case "a": bytes.append(0x07)
                case "b": bytes.append(0x08)
                case "f": bytes.append(0x0c)
                case "n": bytes.append(0x0a)
                case "r": bytes.append(0x0d)
                case "t": bytes.append(0x09)
                case "v": bytes.append(0x0b)
                case "\\", "\"", "'": bytes.append(UInt8(escape.value))
                case "x":
                    bytes.append(UInt8(try hexDigits(&scalars, count: 2)))
                case "u", "U":
                    let value = try hexDigits(&scalars, count: escape == "u" ? 4 : 8)
                    guard let unicode = Unicode.Scalar(value) else {
                        throw Failure(reason: "\\\(escape) escape names no Unicode character")
                    }
                    bytes.append(contentsOf: Array(String(Character(unicode)).utf8))
                case "0"..."7":
                    var value = escape.value - 48
                    for _ in 0..<2 {
                        guard let digit = scalars.popFirst(), ("0"..."7").contains(digit) else {
                            throw Failure(reason: "an octal escape needs three digits")
                        }
                        value = value * 8 + digit.value - 48
                    }
                    guard value <= 255 else { throw Failure(reason: "octal escape above \\377") }
                    bytes.append(UInt8(value))
                default:
                    throw Failure(reason: "unknown escape \\\(escape)")
                }
            default:
                bytes.append(contentsOf: Array(String(Character(scalar)).utf8))
            }
        }
        throw Failure(reason: "the string opened with \" is not closed")
    }

    private static func hexDigits(_ scalars: inout Substring.UnicodeScalarView.SubSequence, count: Int) throws(Failure)
        -> UInt32
    {
        var value: UInt32 = 0
        for _ in 0..<count {
            guard let digit = scalars.popFirst(), let nibble = UInt32(String(digit), radix: 16) else {
                throw Failure(reason: "a hex escape needs \(count) hex digits")
            }
            value = value * 16 + nibble
        }
        return value
    }

    /// Splits a request line into words: runs of non-space, or quoted strings (which may hold spaces).
    static func words(_ line: Substring) throws(Failure) -> [[UInt8]] {
        var words: [[UInt8]] = []
        var rest = line.drop(while: \.isWhitespace)
        while let first = rest.first {
            if first == "\"" || first == "'" {
                let (bytes, after) = try read(rest)
                words.append(bytes)
                rest = after
            } else {
                let end = rest.firstIndex(where: \.isWhitespace) ?? rest.endIndex
                words.append(Array(rest[..<end].utf8))
                rest = rest[end...]
            }
            rest = rest.drop(while: \.isWhitespace)
        }
        return words
    }
}
