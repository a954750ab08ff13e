/// An `http://host:port` or `https://host:port` URL of a listener or an advertised endpoint.
/// `https` means TLS with the certificates of `--cert-file` (client URLs) or `--peer-cert-file`
/// (peer URLs); resolving the configuration refuses an `https` URL without them.
public struct ServerURL: Sendable, Hashable, CustomStringConvertible {
    /// The host name or IP address (IPv6 without brackets).
    public var host: String
    /// The TCP port.
    public var port: Int
    /// Whether the scheme is `https`.
    public var usesTLS: Bool

    /// Creates a URL.
    public init(host: String, port: Int, usesTLS: Bool = false) {
        self.host = host
        self.port = port
        self.usesTLS = usesTLS
    }

    /// `http` or `https`.
    public var scheme: String { usesTLS ? "https" : "http" }

    /// `http://host:port`, IPv6 hosts in brackets: the canonical form member ids are derived from
    /// (so, as in etcd, the scheme is part of a member's identity).
    public var description: String {
        host.contains(":") ? "\(scheme)://[\(host)]:\(port)" : "\(scheme)://\(host):\(port)"
    }

    /// Whether the host is a wildcard address, which can be listened on but not advertised.
    public var isUnspecifiedHost: Bool {
        host == "0.0.0.0" || host == "::" || host == "[::]"
    }

    /// Whether the host is an IPv6 address.
    public var isIPv6: Bool { host.contains(":") }

    /// The address to bind: `localhost` is loopback, other hosts must already be IP addresses.
    public var listenHost: String { host == "localhost" ? "127.0.0.1" : host }

    /// Whether the host can be bound without a name lookup: an IPv4 or IPv6 address, or
    /// `localhost`. etcd has the same rule, since a name may resolve to an address not local.
    public var isListenable: Bool {
        if host == "localhost" || isIPv6 { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isNumber) && (Int(part) ?? 256) <= 255
        }
    }

    /// Parses `http://host:port` or `https://host:port` (an optional trailing `/` is accepted);
    /// `what` names the flag or key in the error. Without `allowTLS`, `https` is refused.
    public static func parse(_ text: String, what: String, allowTLS: Bool = true) throws(ConfigError) -> ServerURL {
        let trimmed = text.trimmingWhitespace()
        let schemeSeparator = "://"
        guard let schemeEnd = trimmed.firstRange(of: schemeSeparator) else {
            throw ConfigError("\(what): '\(text)' is not a URL (expected http://host:port)")
        }
        let scheme = trimmed[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || (scheme == "https" && allowTLS) else {
            let supported = allowTLS ? "http or https" : "only http (https is served on the client URLs)"
            throw ConfigError("\(what): '\(text)' uses scheme '\(scheme)'; use \(supported)")
        }
        var rest = trimmed[schemeEnd.upperBound...]
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("/"), !rest.contains("?"), !rest.contains("#"), !rest.contains("@") else {
            throw ConfigError("\(what): '\(text)' must be only http://host:port, without path, query or user")
        }
        let host: Substring
        let portText: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else {
                throw ConfigError("\(what): '\(text)' has an unterminated IPv6 address")
            }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let afterHost = rest[rest.index(after: close)...]
            guard afterHost.hasPrefix(":") else {
                throw ConfigError("\(what): '\(text)' has no port (expected http://host:port)")
            }
            portText = afterHost.dropFirst()
        } else {
            guard let colon = rest.lastIndex(of: ":") else {
                throw ConfigError("\(what): '\(text)' has no port (expected http://host:port)")
            }
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        }
        guard !host.isEmpty else {
            throw ConfigError("\(what): '\(text)' has no host")
        }
        guard let port = Int(portText), (0...65_535).contains(port) else {
            throw ConfigError("\(what): '\(text)' has port '\(portText)', which is not a number from 0 to 65535")
        }
        return ServerURL(host: String(host), port: port, usesTLS: scheme == "https")
    }

    /// Parses a comma-separated list of URLs; an empty list is an error unless `allowEmpty`.
    public static func parseList(
        _ text: String, what: String, allowEmpty: Bool = false, allowTLS: Bool = true
    ) throws(ConfigError) -> [ServerURL] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: true)
            .map { String($0).trimmingWhitespace() }
            .filter { !$0.isEmpty }
        if parts.isEmpty && !allowEmpty {
            throw ConfigError("\(what): no URL given")
        }
        var urls: [ServerURL] = []
        for part in parts {
            urls.append(try parse(part, what: what, allowTLS: allowTLS))
        }
        return urls
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines (no Foundation needed).
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
