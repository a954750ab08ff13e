import Foundation

/// The check etcd's client (`types.NewURLs`) makes of a member's peer URLs before it sends a member
/// add or update, with its wording, since etcdctl prints it. The server checks again; this only
/// spares a round trip and gives the operator etcd's message for a typo.
///
/// A URL is read the way Go's `net/url` reads it, as far as these checks need: surrounding spaces
/// dropped, a scheme (letters first, then letters, digits, `+`, `-`, `.`, up to a colon), then
/// `//` and an authority up to the next `/`. Go's rules for percent-escapes and user info are not
/// repeated: such a URL passes here and the server decides.
public enum PeerURLs {
    /// The schemes etcd accepts for peers.
    static let schemes: Set<String> = ["http", "https", "unix", "unixs"]

    /// The first problem in `urls`, worded as etcd's client words it, or nil when each is
    /// `scheme://host:port` with one of etcd's schemes and no path.
    public static func problem(in urls: [String]) -> String? {
        guard !urls.isEmpty else { return "no valid URLs given" }
        for raw in urls {
            if let problem = problem(in: raw) { return problem }
        }
        return nil
    }

    private static func problem(in raw: String) -> String? {
        let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        let parsed: Parsed
        switch parse(text) {
        case .success(let value): parsed = value
        case .failure(let failure): return "parse \(GoInteger.goQuote(text)): \(failure.reason)"
        }
        guard schemes.contains(parsed.scheme) else { return "URL scheme must be http, https, unix, or unixs: \(text)" }
        guard isHostPort(parsed.host) else { return "URL address does not have the form \"host:port\": \(text)" }
        guard parsed.path.isEmpty else { return "URL must not contain a path: \(text)" }
        return nil
    }

    /// What a URL is made of, for these checks.
    private struct Parsed {
        var scheme = ""
        var host = ""
        var path = ""
    }

    /// Why Go's `url.Parse` refuses a text (the part after `parse "TEXT": `).
    private struct ParseFailure: Error {
        var reason: String
    }

    private static func parse(_ text: String) -> Result<Parsed, ParseFailure> {
        if text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            return .failure(ParseFailure(reason: "net/url: invalid control character in URL"))
        }
        // The fragment and the query are no part of what is checked.
        var rest = Substring(text)
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        var parsed = Parsed()
        switch scheme(of: rest) {
        case .failure(let failure): return .failure(failure)
        case .success(let split):
            if let (scheme, after) = split {
                parsed.scheme = scheme.lowercased()
                rest = after
            }
        }
        if let question = rest.firstIndex(of: "?") { rest = rest[..<question] }
        guard rest.hasPrefix("/") else {
            if parsed.scheme.isEmpty, rest.prefix(while: { $0 != "/" }).contains(":") {
                // Go reads "127.0.0.1:2380" as a relative path whose first segment has a colon.
                return .failure(ParseFailure(reason: "first path segment in URL cannot contain colon"))
            }
            return .success(parsed)  // opaque ("localhost:2380") or a bare path: no host
        }
        if rest.hasPrefix("//") {
            let authority = rest.dropFirst(2).prefix(while: { $0 != "/" })
            rest = rest.dropFirst(2 + authority.count)
            let host = authority.lastIndex(of: "@").map { authority[authority.index(after: $0)...] } ?? authority
            if let failure = hostProblem(host) { return .failure(failure) }
            parsed.host = String(host)
        }
        parsed.path = String(rest)
        return .success(parsed)
    }

    /// The scheme and what follows its colon; nil when the text has no scheme.
    private static func scheme(of text: Substring) -> Result<(Substring, Substring)?, ParseFailure> {
        for (offset, character) in text.enumerated() {
            if character.isASCII && character.isLetter { continue }
            if character.isASCII && (character.isNumber || "+-.".contains(character)) {
                if offset == 0 { return .success(nil) }
                continue
            }
            if character == ":" {
                if offset == 0 { return .failure(ParseFailure(reason: "missing protocol scheme")) }
                let colon = text.index(text.startIndex, offsetBy: offset)
                return .success((text[..<colon], text[text.index(after: colon)...]))
            }
            return .success(nil)
        }
        return .success(nil)
    }

    /// Characters Go's URL parser accepts in a host besides ASCII letters and digits.
    private static let hostPunctuation = Set("-_.~!$&'()*+,;=:[]<>\"%")

    /// Go's checks of a host: a port after the last colon (outside brackets) must be digits, and
    /// only some characters may appear.
    private static func hostProblem(_ host: Substring) -> ParseFailure? {
        var portPart: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return ParseFailure(reason: "missing ']' in host") }
            portPart = host[host.index(after: close)...]
        } else if let colon = host.lastIndex(of: ":") {
            portPart = host[colon...]
        }
        if let portPart, !portPart.isEmpty, !(portPart.first == ":" && portPart.dropFirst().allSatisfy { $0.isASCII && $0.isNumber }) {
            return ParseFailure(reason: "invalid port \(GoInteger.goQuote(String(portPart))) after host")
        }
        for character in host where character.isASCII && !character.isLetter && !character.isNumber && !hostPunctuation.contains(character) {
            return ParseFailure(reason: "invalid character \(GoInteger.goQuote(String(character))) in host name")
        }
        return nil
    }

    /// Go's `net.SplitHostPort` succeeds: `host:port` or `[host]:port`, one colon outside brackets.
    private static func isHostPort(_ text: String) -> Bool {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return false }
            let inside = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            return after.first == ":" && !inside.contains("[") && !after.contains("[") && !after.contains("]")
                && !after.dropFirst().contains(":")
        }
        guard let colon = text.lastIndex(of: ":") else { return false }
        let hostPart = text[..<colon]
        return !hostPart.contains(":") && !text.contains("[") && !text.contains("]")
    }
}
