import GRPCNIOTransportHTTP2
import NIOCore
import NIOPosix

/// Binds one client URL for grpc-swift's `HTTP2ServerTransport.Custom`, with a
/// ``ProtocolSniffer`` first on every connection so that the same port also answers etcd's
/// HTTP/1 endpoints (etcd serves them there through cmux).
///
/// This is `HTTP2ServerTransport.Posix`'s plaintext listener with one handler added; gRPC's
/// connection handling is grpc-swift's own.
struct ClientPortListenerFactory: HTTP2ServerTransport.ListenerFactory {
    let eventLoopGroup: any EventLoopGroup
    let url: ServerURL
    let http: ClientPortHTTP

    func makeListeningChannel(
        listenerConfigurator: HTTP2ServerTransport.ListenerConfigurator,
        connectionConfigurator: HTTP2ServerTransport.ConnectionConfigurator
    ) async throws -> NIOAsyncChannel<HTTP2ServerTransport.ConnectionConfigurator.ConnectionChannel, Never> {
        let http = http
        return try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { listenerConfigurator.configure(channel: $0) }
            .bind(host: url.isIPv6 ? url.host : url.listenHost, port: url.port) { connection in
                connection.eventLoop.makeCompletedFuture {
                    try connection.pipeline.syncOperations.addHandler(ProtocolSniffer(http: http))
                }.flatMap {
                    connectionConfigurator.configure(channel: connection, tls: .none)
                }
            }
    }
}
