import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization

/// One listener of `--listen-client-urls`: gRPC (HTTP/2, over TLS for an `https` URL) serving the etcd services, and
/// on the same port etcd's HTTP/1 endpoints (`/metrics`, `/health`, `/version`).
final class GRPCListener: Service, Sendable {
    /// etcd's allowance over `--max-request-bytes` for gRPC framing and the other fields of a
    /// request, so that a request just over the limit reaches the server's check and gets etcd's
    /// "request is too large" instead of a transport error.
    static let grpcOverheadBytes = 512 * 1024

    /// Calls in flight on one client connection; HTTP/2 makes the client wait beyond. The node
    /// bounds its own queue separately (ResourceExhausted), this bounds the handler tasks.
    static let streamsPerConnectionMax = 1_024
    /// etcd's `--grpc-keepalive-min-time`: the shortest interval between a client's pings on an
    /// idle connection before the server counts them as abuse (grpc-swift's default is 5 min).
    static let clientPingIntervalMin: Duration = .seconds(5)

    let url: ServerURL
    let server: GRPCServer<HTTP2ServerTransport.Custom<ClientPortListenerFactory>>
    /// Whether the address was bound: a failure before is reported as "cannot listen".
    private let bound = Atomic(false)

    init(
        url: ServerURL, services: [any RegistrableRPCService], interceptors: [any ServerInterceptor] = [],
        maxRequestBytes: Int, http: ClientPortHTTP, tls: NIOSSLContext? = nil
    ) {
        precondition(url.usesTLS == (tls != nil), "an https client URL needs a TLS context, an http one none")
        self.url = url
        var config = HTTP2ServerTransport.Custom<ClientPortListenerFactory>.Config.defaults
        config.rpc.maxRequestPayloadSize = maxRequestBytes + Self.grpcOverheadBytes
        config.http2.maxConcurrentStreams = Self.streamsPerConnectionMax
        config.connection.keepalive.clientBehavior.minPingIntervalWithoutCalls = Self.clientPingIntervalMin
        let transport = HTTP2ServerTransport.Custom(
            listenerFactory: ClientPortListenerFactory(
                eventLoopGroup: MultiThreadedEventLoopGroup.singleton, url: url, http: http, tls: tls),
            config: config
        )
        server = GRPCServer(transport: transport, services: services, interceptors: interceptors)
    }

    /// The port bound; waits until the listener is bound.
    ///
    /// - Throws: ``StartupError`` when the address could not be bound.
    func boundPort() async throws(StartupError) -> Int {
        // nil when the bind failed or the listener stopped; serve() throws the cause.
        let address = await server.transport.listeningAddress
        if let port = address?.ipv4?.port ?? address?.ipv6?.port { return port }
        throw StartupError("cannot listen on \(url) (\(ConfigSetting.listenClientURLs.flag)): no IP address bound")
    }

    /// Serves until graceful shutdown: then stops accepting and lets calls in flight finish.
    func run() async throws {
        let server = server
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        try await server.serve()
                    } catch {
                        let flag = ConfigSetting.listenClientURLs.flag
                        // A failure before the bind is an address in use or not ours: say so first.
                        guard self.bound.load(ordering: .acquiring) else {
                            throw StartupError("cannot listen on \(self.url) (\(flag)): \((error as? RuntimeError)?.cause ?? error)")
                        }
                        throw StartupError("gRPC listener \(self.url) (\(flag)) failed: \(error)")
                    }
                }
                group.addTask {
                    if (try? await self.boundPort()) != nil { self.bound.store(true, ordering: .releasing) }
                }
                try await group.waitForAll()
            }
        } onGracefulShutdown: {
            server.beginGracefulShutdown()
        }
    }
}
