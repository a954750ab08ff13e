import GRPCNIOTransportHTTP2
import NIOCore
import NIOPosix
import NIOSSL

/// Binds one client URL for grpc-swift's `HTTP2ServerTransport.Custom`, with a
/// ``ProtocolSniffer`` first on every connection so that the same port also answers etcd's
/// HTTP/1 endpoints (etcd serves them there through cmux).
///
/// This is `HTTP2ServerTransport.Posix`'s listener with one handler added; gRPC's connection
/// handling is grpc-swift's own. With `tls`, TLS comes first and the sniffer sees decrypted bytes.
struct ClientPortListenerFactory: HTTP2ServerTransport.ListenerFactory {
    let eventLoopGroup: any EventLoopGroup
    let url: ServerURL
    let http: ClientPortHTTP
    /// The `https` URL's context (ALPN `h2` and `http/1.1`); nil for `http`.
    let tls: NIOSSLContext?

    func makeListeningChannel(
        listenerConfigurator: HTTP2ServerTransport.ListenerConfigurator,
        connectionConfigurator: HTTP2ServerTransport.ConnectionConfigurator
    ) async throws -> NIOAsyncChannel<HTTP2ServerTransport.ConnectionConfigurator.ConnectionChannel, Never> {
        let http = http
        let tls = tls
        // ALPN is not required: an HTTP/1 client of /health negotiates http/1.1, or nothing.
        let connectionTLS: HTTP2ServerTransport.ConnectionConfigurator.TLS = tls == nil ? .none : .configured(requireALPN: false)
        return try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { listenerConfigurator.configure(channel: $0) }
            .bind(host: url.isIPv6 ? url.host : url.listenHost, port: url.port) { connection in
                connection.eventLoop.makeCompletedFuture {
                    if let tls {
                        try connection.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                    }
                    try connection.pipeline.syncOperations.addHandler(ProtocolSniffer(http: http))
                }.flatMap {
                    connectionConfigurator.configure(channel: connection, tls: connectionTLS)
                }
            }
    }
}
