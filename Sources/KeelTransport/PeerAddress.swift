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

    /// `host:port`, with `(tls)` after it when dialled over TLS.
    public var description: String { usesTLS ? "\(host):\(port) (tls)" : "\(host):\(port)" }
}
