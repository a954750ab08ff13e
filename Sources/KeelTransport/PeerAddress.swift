/// Where a peer listens for other members.
public struct PeerAddress: Sendable, Hashable, CustomStringConvertible {
    /// Host name or IP address.
    public var host: String
    /// TCP port.
    public var port: Int
    /// Whether the peer listens with TLS (its URL is `https`): then we dial it with
    /// ``PeerTLS/client``.
    public var usesTLS: Bool

    /// Creates an address.
    public init(host: String, port: Int, usesTLS: Bool = false) {
        self.host = host
        self.port = port
        self.usesTLS = usesTLS
    }

    /// The address in a peer URL such as `http://10.0.0.1:2380` or `https://[::1]:2380`; nil when
    /// it names no port.
    public init?(url: String) {
        let parts = url.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        var rest = parts[1]
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else {
            return nil
        }
        var host = rest[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty else { return nil }
        self.init(host: String(host), port: port, usesTLS: parts[0] == "https")
    }

    /// `host:port`, with `(tls)` after it when dialled over TLS.
    public var description: String { usesTLS ? "\(host):\(port) (tls)" : "\(host):\(port)" }
}
