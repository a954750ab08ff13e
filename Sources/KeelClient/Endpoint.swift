/// One server address a client may talk to: a host (name or IP literal) and a TCP port.
///
/// Parsed from the forms etcd's tools accept: `127.0.0.1:2379`, `localhost:2379`, `[::1]:2379`,
/// `http://host:port`, `https://host:port` (TLS, with ``KeelClientConfiguration/tls``).
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    /// The host name or IP literal, without brackets for IPv6.
    public var host: String
    /// The TCP port.
    public var port: Int
    /// Whether the client speaks TLS to it: given as `https://`, or as bare `host:port` while
    /// TLS options are set (etcdctl's rule).
    public var usesTLS: Bool

    /// Creates an endpoint from its parts.
    public init(host: String, port: Int, usesTLS: Bool = false) {
        precondition(!host.isEmpty, "an endpoint needs a host")
        precondition((1...65535).contains(port), "an endpoint port is 1...65535, got \(port)")
        self.host = host
        self.port = port
        self.usesTLS = usesTLS
    }

    /// `host:port`, with brackets around an IPv6 host: the form etcdctl prints in `endpoint status`.
    public var description: String {
        isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Whether the host is an IPv6 literal (it holds a colon, which no host name or IPv4 address does).
    public var isIPv6: Bool { host.contains(":") }

    /// Whether the host is an IPv4 literal (four decimal octets).
    public var isIPv4: Bool {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isASCIIDigit) && Int(part)! <= 255
        }
    }

    /// Parses one endpoint, naming the text and what is wrong with it when it cannot.
    public init(parsing text: String) throws(EndpointParseError) {
        var rest = Substring(text.trimmingWhitespace())
        guard !rest.isEmpty else { throw EndpointParseError(text: text, reason: "it is empty") }
        var usesTLS = false
        if let schemeEnd = rest.range(of: "://") {
            let scheme = rest[..<schemeEnd.lowerBound].lowercased()
            switch scheme {
            case "http": break
            case "https": usesTLS = true
            default: throw EndpointParseError(text: text, reason: "unknown scheme '\(scheme)'; use http://, https:// or host:port")
            }
            rest = rest[schemeEnd.upperBound...]
            // A URL may carry a path ("http://h:2379/"); the client API has none, so it is ignored.
            if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        }
        let hostPart: Substring
        let portPart: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else {
                throw EndpointParseError(text: text, reason: "'[' opens an IPv6 address that no ']' closes")
            }
            hostPart = rest[rest.index(after: rest.startIndex)..<close]
            let afterBracket = rest[rest.index(after: close)...]
            guard afterBracket.hasPrefix(":") else {
                throw EndpointParseError(text: text, reason: "no port after the IPv6 address; write [addr]:port")
            }
            portPart = afterBracket.dropFirst()
        } else {
            guard let colon = rest.lastIndex(of: ":") else {
                throw EndpointParseError(text: text, reason: "no port; write host:port")
            }
            hostPart = rest[..<colon]
            portPart = rest[rest.index(after: colon)...]
            guard !hostPart.contains(":") else {
                throw EndpointParseError(text: text, reason: "an IPv6 address needs brackets: [addr]:port")
            }
        }
        guard !hostPart.isEmpty else { throw EndpointParseError(text: text, reason: "the host is empty") }
        guard !portPart.isEmpty, portPart.allSatisfy(\.isASCIIDigit), let port = Int(portPart), (1...65535).contains(port)
        else {
            throw EndpointParseError(text: text, reason: "the port '\(portPart)' is not a number in 1...65535")
        }
        self.init(host: String(hostPart), port: port, usesTLS: usesTLS)
    }

    /// Whether the text names its scheme (`http://`, `https://`) rather than only `host:port`.
    public static func hasScheme(_ text: String) -> Bool { text.contains("://") }

    /// Parses a comma-separated list (`--endpoints a:1,b:2`), skipping empty items; at least one is needed.
    public static func parseList(_ text: String) throws(EndpointParseError) -> [Endpoint] {
        let items = text.split(separator: ",").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
        guard !items.isEmpty else { throw EndpointParseError(text: text, reason: "no endpoint given") }
        var endpoints: [Endpoint] = []
        for item in items {
            let endpoint = try Endpoint(parsing: item)
            if !endpoints.contains(endpoint) { endpoints.append(endpoint) }
        }
        return endpoints
    }
}

/// An endpoint that could not be parsed: the text as given and why.
public struct EndpointParseError: Error, Hashable, CustomStringConvertible {
    /// The text that was given.
    public var text: String
    /// What is wrong with it.
    public var reason: String

    /// Creates the error for `text`.
    public init(text: String, reason: String) {
        self.text = text
        self.reason = reason
    }

    /// `invalid endpoint "<text>": <reason>`.
    public var description: String { "invalid endpoint \"\(text)\": \(reason)" }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

extension StringProtocol {
    fileprivate func trimmingWhitespace() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
