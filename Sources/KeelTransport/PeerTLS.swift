import NIOCore
import NIOSSL

/// TLS for the peer transport: one context for the connections peers open to us, one for the
/// connections we open to them. The host builds both (from files, with its own error texts);
/// the transport only puts them on the wire.
public struct PeerTLS: Sendable {
    /// Wraps every accepted connection; it decides whether a peer certificate is required. nil:
    /// the listener is plaintext (only dialled peers use TLS).
    public var server: NIOSSLContext?
    /// Wraps every connection dialled to a peer whose address uses TLS; it holds the certificate
    /// we present and the roots we check the peer's against.
    public var client: NIOSSLContext

    /// Creates the pair.
    public init(server: NIOSSLContext?, client: NIOSSLContext) {
        self.server = server
        self.client = client
    }

    /// The handler that dials `address` over TLS. An IP literal is not a valid SNI name, so for
    /// one no name is sent and swift-nio-ssl checks the certificate against the connected
    /// address instead (its IP SANs), as etcd's Go client does.
    func clientHandler(for address: PeerAddress) throws -> NIOSSLClientHandler {
        try NIOSSLClientHandler(context: client, serverHostname: address.isIPLiteral ? nil : address.host)
    }

    /// Whether `error` is a failed TLS handshake (a certificate refused, by either side), so
    /// the log can call it that. A peer that merely hangs up without TLS's close message is not.
    static func isTLSFailure(_ error: any Error) -> Bool {
        if case NIOSSLError.handshakeFailed = error { return true }
        return error is BoringSSLError
    }
}

extension PeerAddress {
    /// An IPv4 or IPv6 literal rather than a name.
    var isIPLiteral: Bool {
        if host.contains(":") { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isNumber)
        }
    }
}
