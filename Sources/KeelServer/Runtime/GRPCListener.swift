import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import ServiceLifecycle

/// One gRPC listener (plaintext HTTP/2) of `--listen-client-urls`, serving the etcd services.
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
    let server: GRPCServer<HTTP2ServerTransport.Posix>

    init(url: ServerURL, services: [any RegistrableRPCService], maxRequestBytes: Int) {
        self.url = url
        let transport = HTTP2ServerTransport.Posix(
            address: url.isIPv6 ? .ipv6(host: url.host, port: url.port) : .ipv4(host: url.listenHost, port: url.port),
            transportSecurity: .plaintext,
            config: .defaults {
                $0.rpc.maxRequestPayloadSize = maxRequestBytes + Self.grpcOverheadBytes
                $0.http2.maxConcurrentStreams = Self.streamsPerConnectionMax
                $0.connection.keepalive.clientBehavior.minPingIntervalWithoutCalls = Self.clientPingIntervalMin
            }
        )
        server = GRPCServer(transport: transport, services: services)
    }

    /// The port bound; waits until the listener is bound.
    ///
    /// - Throws: ``StartupError`` when the address could not be bound.
    func boundPort() async throws(StartupError) -> Int {
        do {
            let address = try await server.transport.listeningAddress
            if let port = address.ipv4?.port ?? address.ipv6?.port { return port }
            throw StartupError("cannot listen on \(url) (\(ConfigSetting.listenClientURLs.flag)): no IP address bound")
        } catch let error as StartupError {
            throw error
        } catch {
            throw StartupError("cannot listen on \(url) (\(ConfigSetting.listenClientURLs.flag)): \(error)")
        }
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
                        throw StartupError("gRPC listener \(self.url) (\(ConfigSetting.listenClientURLs.flag)) failed: \(error)")
                    }
                }
                // A bind failure surfaces here with the URL and flag named.
                _ = try await boundPort()
                try await group.waitForAll()
            }
        } onGracefulShutdown: {
            server.beginGracefulShutdown()
        }
    }
}
