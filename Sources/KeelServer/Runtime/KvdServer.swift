import GRPCCore
import KeelNode
import Logging
import Metrics
import NIOSSL
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The ports a running server bound (they differ from the configured ones where those are 0).
public struct BoundPorts: Sendable, Hashable {
    /// One per `--listen-client-urls` entry, in order.
    public var client: [Int]
    /// One per `--listen-metrics-urls` entry, in order.
    public var metrics: [Int]
}

/// What ``KvdServer/shutdown()`` and ``KvdServer/run(shutdownSignals:)`` share.
private struct RunState {
    var group: ServiceGroup?
    var shutdownRequested = false
    /// Set when the member was removed from the cluster: the server shut down for that reason.
    var removed = false
}

/// A kvd member: the peer network, the node, the gRPC listeners and the metrics listeners, run
/// as one service group that shuts down gracefully in reverse order (listeners stop accepting,
/// then the node stops and closes its storage, then the peer network closes).
public final class KvdServer: Sendable {
    /// The longest a graceful shutdown may take before the remaining services are cancelled;
    /// calls in flight are bounded by their own deadlines, which default to a few seconds.
    public static let gracefulShutdownDurationMax: Duration = .seconds(15)

    /// Time allowed for an answer to travel back to a caller on top of the node's tick
    /// granularity (see ``UnaryRoute/answerMargin``).
    public static let answerTravelAllowance: Duration = .milliseconds(50)

    /// The configuration it runs with.
    public let config: ServerConfig
    /// The node.
    public let node: KeelNode
    private let network: any LifecyclePeerNetwork
    /// The context of the `https` client URLs; nil when all are `http`.
    private let clientTLS: NIOSSLContext?
    private let logger: Logger
    private let state = Mutex(RunState())
    private let readyStream: AsyncStream<BoundPorts>
    private let readyContinuation: AsyncStream<BoundPorts>.Continuation

    /// Opens the node (its data directory is checked here) over `network`.
    ///
    /// - Parameter tls: the contexts read from the configuration's certificate files; read here
    ///   when not given.
    /// - Throws: ``StartupError`` when the data directory belongs to another cluster or member,
    ///   or cannot be opened, or a certificate file cannot be used.
    public init(
        config: ServerConfig, network: any LifecyclePeerNetwork, tls: ServerTLSContexts? = nil, logger: Logger
    ) throws(StartupError) {
        self.config = config
        self.network = network
        self.logger = logger
        if let tls {
            clientTLS = tls.client
        } else {
            do {
                clientTLS = try ServerTLSContexts(config: config).client
            } catch {
                throw StartupError(error.message)
            }
        }
        // Metrics made before the bootstrap stay no-ops forever, and the node makes its own
        // while it opens.
        _ = MetricsBootstrap.registry
        do {
            node = try KeelNode(config: config.nodeConfig, network: network, logger: logger)
        } catch {
            throw StartupError(error.message)
        }
        (readyStream, readyContinuation) = AsyncStream.makeStream(of: BoundPorts.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// The bound ports, once every listener is bound; nil if the server stopped first.
    public func boundPorts() async -> BoundPorts? {
        for await ports in readyStream { return ports }
        return nil
    }

    /// Runs until graceful shutdown (one of `shutdownSignals`, or ``shutdown()``).
    ///
    /// - Throws: ``StartupError`` when a listener cannot bind; the other services are then stopped.
    public func run(shutdownSignals: [UnixSignal] = []) async throws {
        defer { readyContinuation.finish() }
        let metricsServers: [MetricsHTTPServer]
        do {
            metricsServers = try await bindMetrics()
        } catch {
            // The node opened its storage in init; close it, since no service will.
            await node.stop()
            throw error
        }
        let grpcListeners = makeGRPCListeners()
        let all: [any Service] =
            [PeerNetworkService(network: network, url: config.listenPeerURL), NodeService(node: node)] + grpcListeners + metricsServers
        var groupConfig = ServiceGroupConfiguration(
            services: all.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: shutdownSignals, cancellationSignals: [], logger: logger
        )
        groupConfig.maximumGracefulShutdownDuration = Self.gracefulShutdownDurationMax
        let serviceGroup = ServiceGroup(configuration: groupConfig)
        let shutdownEarly = state.withLock { state in
            state.group = serviceGroup
            return state.shutdownRequested
        }
        if shutdownEarly {
            for server in metricsServers { await server.close() }
            await node.stop()
            return
        }
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { await self.reportReady(grpcListeners: grpcListeners, metricsServers: metricsServers) }
            // A member removed from the cluster has no part to play: shut down gracefully (as on
            // SIGTERM, so open streams end cleanly), then say why (etcd exits the same way).
            tasks.addTask {
                await self.node.waitUntilRemoved()
                guard !Task.isCancelled else { return }
                self.state.withLock { $0.removed = true }
                await self.shutdown()
            }
            // The group's end (shutdown or a failure) ends the readiness wait as well.
            defer { tasks.cancelAll() }
            try await serviceGroup.run()
        }
        if state.withLock({ $0.removed }) {
            throw StartupError("the member has been permanently removed from the cluster")
        }
    }

    /// Binds every metrics listener, or none: on a failure the ones bound are closed.
    private func bindMetrics() async throws(StartupError) -> [MetricsHTTPServer] {
        let routes = httpRoutes()
        var servers: [MetricsHTTPServer] = []
        do {
            for url in config.listenMetricsURLs {
                servers.append(try await MetricsHTTPServer.bind(url: url, routes: routes, logger: logger))
            }
        } catch {
            for server in servers { await server.close() }
            throw error
        }
        return servers
    }

    /// What the client ports and the metrics listeners answer over HTTP/1.
    private func httpRoutes() -> MetricsRoutes {
        // etcd's name; the data directory's size stands for its bbolt file's.
        let databaseSize = Gauge(label: "etcd_mvcc_db_total_size_in_bytes")
        return MetricsRoutes(registry: MetricsBootstrap.registry, refresh: { [node] in
            databaseSize.record(await node.status().dbSizeBytes)
        }) { [node] in
            // As etcd 3.4: a raised alarm (NOSPACE) makes the member unhealthy, with no reason given.
            if await node.knownLeader == .none { return HealthReport(healthy: false, reason: "RAFT NO LEADER") }
            return await node.raisedAlarms.isEmpty ? HealthReport(healthy: true) : HealthReport(healthy: false)
        }
    }

    /// One gRPC listener per client URL, each serving the etcd services.
    private func makeGRPCListeners() -> [GRPCListener] {
        let nodeConfig = config.nodeConfig
        let route = UnaryRoute(
            defaultTimeout: nodeConfig.requestTimeout, answerMargin: nodeConfig.tickInterval * 2 + Self.answerTravelAllowance
        )
        let services: [any RegistrableRPCService] = [
            KVService(node: node, validation: RequestValidation(), route: route),
            MaintenanceService(node: node, route: route),
            ClusterService(node: node, route: route),
            LeaseService(node: node, route: route, streams: KeepAliveStreams()),
            WatchService(
                node: node, streams: KeepAliveStreams(what: "watch streams"),
                progressInterval: .milliseconds(config.watchProgressNotifyIntervalMilliseconds),
                fragmentBytesMax: config.maxRequestBytes),
            LockService(waits: KeyWaits(node: node, requestTimeout: nodeConfig.requestTimeout), route: route),
            ElectionService(waits: KeyWaits(node: node, requestTimeout: nodeConfig.requestTimeout), route: route),
            HealthService(node: node),
        ]
        let http = ClientPortHTTP(routes: httpRoutes(), logger: logger)
        let grpcMetrics = GRPCServerMetrics()
        return config.listenClientURLs.map {
            GRPCListener(
                url: $0, services: services, interceptors: [grpcMetrics], maxRequestBytes: config.maxRequestBytes, http: http,
                tls: $0.usesTLS ? clientTLS : nil)
        }
    }

    /// Publishes the bound ports once every gRPC listener is bound (never, if one fails).
    private func reportReady(grpcListeners: [GRPCListener], metricsServers: [MetricsHTTPServer]) async {
        var client: [Int] = []
        for listener in grpcListeners {
            guard let port = try? await listener.boundPort() else { return }
            client.append(port)
        }
        let ports = BoundPorts(client: client, metrics: metricsServers.map(\.boundPort))
        logger.info(
            "kvd ready",
            metadata: [
                "name": "\(config.name)", "member": "\(String(node.id.rawValue, radix: 16))",
                "client-ports": "\(ports.client)", "metrics-ports": "\(ports.metrics)",
            ])
        readyContinuation.yield(ports)
    }

    /// Starts a graceful shutdown, as SIGTERM does (also before ``run(shutdownSignals:)`` got going).
    public func shutdown() async {
        let running = state.withLock { state in
            state.shutdownRequested = true
            return state.group
        }
        await running?.triggerGracefulShutdown()
    }
}
