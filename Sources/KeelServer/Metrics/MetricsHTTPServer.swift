import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The HTTP/1 listener for `/metrics` and `/health`.
///
/// ``bind(url:routes:logger:)`` binds at once, so that a port in use fails kvd's startup with a
/// clear message before anything else runs; ``run()`` serves until graceful shutdown.
public final class MetricsHTTPServer: Service, Sendable {
    /// The most connections served at once; beyond, new connections are closed unanswered.
    public static let connectionsMax = 64
    /// How long one connection may stay open; each connection gets one answer, so this only
    /// bounds clients that connect and send nothing.
    public static let connectionLifetimeSecondsMax: Int64 = 10

    /// The URL as configured.
    public let url: ServerURL
    /// The port actually bound (differs from the URL's when it asked for port 0).
    public let boundPort: Int
    private let channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
    private let routes: MetricsRoutes
    private let logger: Logger
    private let connections = Mutex(0)

    private init(
        url: ServerURL, boundPort: Int,
        channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>,
        routes: MetricsRoutes, logger: Logger
    ) {
        self.url = url
        self.boundPort = boundPort
        self.channel = channel
        self.routes = routes
        self.logger = logger
    }

    /// Binds the listener.
    ///
    /// - Throws: ``StartupError`` naming the URL when the address cannot be bound.
    public static func bind(url: ServerURL, routes: MetricsRoutes, logger: Logger) async throws(StartupError) -> MetricsHTTPServer {
        let lifetime = TimeAmount.seconds(connectionLifetimeSecondsMax)
        let channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
        do {
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: url.host, port: url.port) { child in
                    child.eventLoop.makeCompletedFuture {
                        try child.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        child.eventLoop.scheduleTask(in: lifetime) { child.close(promise: nil) }
                        return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                            wrappingChannelSynchronously: child
                        )
                    }
                }
        } catch {
            throw StartupError("cannot listen on \(url) (\(ConfigSetting.listenMetricsURLs.flag)): \(error)")
        }
        let port = channel.channel.localAddress?.port ?? url.port
        return MetricsHTTPServer(url: url, boundPort: port, channel: channel, routes: routes, logger: logger)
    }

    /// Closes the listener of a server that will not ``run()``.
    public func close() async {
        try? await channel.channel.close()
    }

    /// Serves until graceful shutdown (or cancellation), then closes the listener.
    public func run() async throws {
        let listener = channel.channel
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await channel.executeThenClose { inbound in
                    for try await connection in inbound {
                        let admitted = connections.withLock { count in
                            guard count < Self.connectionsMax else { return false }
                            count += 1
                            return true
                        }
                        guard admitted else {
                            logger.warning("metrics listener: too many connections, closing one", metadata: ["limit": "\(Self.connectionsMax)"])
                            try? await connection.channel.close()
                            continue
                        }
                        group.addTask {
                            await self.serve(connection)
                            self.connections.withLock { $0 -= 1 }
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            listener.close(promise: nil)
        }
    }

    /// Answers one request and closes the connection.
    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                for try await part in inbound {
                    switch part {
                    case .head(let requestHead): head = requestHead
                    case .body: continue  // GET has no body worth reading; bounded by the connection lifetime
                    case .end:
                        guard let head else { return }
                        let answer = await routes.answer(method: head.method.rawValue, uri: head.uri)
                        var headers = HTTPHeaders()
                        headers.add(name: "Content-Type", value: answer.contentType)
                        headers.add(name: "Content-Length", value: "\(answer.body.count)")
                        headers.add(name: "Connection", value: "close")
                        let status = HTTPResponseStatus(statusCode: answer.status)
                        try await outbound.write(.head(HTTPResponseHead(version: head.version, status: status, headers: headers)))
                        if head.method != .HEAD {
                            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: answer.body))))
                        }
                        try await outbound.write(.end(nil))
                        return
                    }
                }
            }
        } catch {
            logger.debug("metrics listener: connection ended with an error", metadata: ["error": "\(error)"])
        }
    }
}
