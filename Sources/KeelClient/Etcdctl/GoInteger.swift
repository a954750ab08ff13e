/// Go's `strconv.ParseInt(text, base, 64)`, which etcdctl uses for TTLs (base 10) and lease IDs
/// (base 16), and `strconv.ParseUint`, which it uses for member ids, with Go's error texts, since
/// etcdctl prints them.
public enum GoInteger {
    /// Why a text is not a 64-bit integer, worded as Go's `*strconv.NumError`.
    public struct ParseError: Error, Equatable, CustomStringConvertible, Sendable {
        /// `strconv.ParseInt: parsing "zz": invalid syntax` or `...: value out of range` (`ParseUint` for unsigned).
        public var description: String
    }

    /// Parses an optionally signed integer in `base` (10 or 16), without Go's `0x` prefixes or
    /// underscores, which `ParseInt` refuses when it is given a base.
    public static func parse(_ text: String, base: Int) throws(ParseError) -> Int64 {
        var digits = Substring(text)
        var negative = false
        if let sign = digits.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            digits = digits.dropFirst()
        }
        // The magnitude as unsigned, so that -9223372036854775808 fits.
        let magnitude = try self.magnitude(digits, base: base, of: text, function: "ParseInt")
        let limit: UInt64 = negative ? UInt64(Int64.max) + 1 : UInt64(Int64.max)
        guard magnitude <= limit else { throw failure(text, "value out of range", function: "ParseInt") }
        return negative ? Int64(truncatingIfNeeded: 0 &- magnitude) : Int64(magnitude)
    }

    /// Go's `strconv.ParseUint(text, base, 64)`, which etcdctl uses for member ids (base 16): no
    /// sign accepted, errors worded `strconv.ParseUint: ...`.
    public static func parseUnsigned(_ text: String, base: Int) throws(ParseError) -> UInt64 {
        try magnitude(Substring(text), base: base, of: text, function: "ParseUint")
    }

    /// The digits' value; `text` and `function` only word the error.
    private static func magnitude(_ digits: Substring, base: Int, of text: String, function: String) throws(ParseError) -> UInt64 {
        precondition(base == 10 || base == 16, "etcdctl parses in base 10 or 16 only")
        guard !digits.isEmpty else { throw failure(text, "invalid syntax", function: function) }
        var magnitude: UInt64 = 0
        for character in digits {
            guard character.isASCII, let digit = character.hexDigitValue, digit < base else {
                throw failure(text, "invalid syntax", function: function)
            }
            // Like Go, give up with a range error as soon as 64 unsigned bits overflow, whatever follows.
            let (shifted, overflow1) = magnitude.multipliedReportingOverflow(by: UInt64(base))
            let (added, overflow2) = shifted.addingReportingOverflow(UInt64(digit))
            guard !overflow1, !overflow2 else { throw failure(text, "value out of range", function: function) }
            magnitude = added
        }
        return magnitude
    }

    private static func failure(_ text: String, _ reason: String, function: String) -> ParseError {
        ParseError(description: "strconv.\(function): parsing \(goQuote(text)): \(reason)")
    }

    /// Go's `strconv.Quote` for what a command line holds: printable text as it is, `"` and `\`
    /// escaped, control characters as Go escapes them.
    static func goQuote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f:
                let hex = String(scalar.value, radix: 16)
                out += "\\x" + (hex.count < 2 ? "0" + hex : hex)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
