import KeelClient
import KeelNode
import KeelServer
import Logging
import ServiceLifecycle

/// A member of a replicated Keel cluster running inside this process (etcd's `embed` package):
/// its own data directory, Raft peers over TCP, and etcd's client API on a loopback port, used
/// through ``KeelClient`` exactly as a remote cluster is.
///
/// It is a swift-service-lifecycle `Service`: run it in a `ServiceGroup` (or call ``run()`` in a
/// task) and it serves until graceful shutdown. ``withClient(_:)`` waits until the member listens
/// and hands a client of it to the body. For a single node without replication, `KeelStore` in
/// KeelStorage is the smaller choice.
public final class EmbeddedMember: Service, Sendable {
    /// Where the member keeps its data and how it reaches its peers.
    public struct Configuration: Sendable {
        /// This member's name; must appear in `initialCluster`.
        public var name: String
        /// Its data directory (created when missing; a directory of another cluster is refused).
        public var dataDirectory: String
        /// The address clients use, `host:port` (loopback for an embedded member).
        public var clientAddress: String
        /// The address peers reach this member at, `host:port`.
        public var peerAddress: String
        /// Every member's name and peer address, `host:port`, this one included.
        public var initialCluster: [(name: String, peerAddress: String)]
        /// Told apart from other clusters by this token.
        public var clusterToken: String
        /// Any other kvd setting (`--heartbeat-interval`, `--read-mode`...), as the flag's value.
        public var settings: [ConfigSetting: String]

        /// A configuration with these fields.
        public init(
            name: String, dataDirectory: String, clientAddress: String, peerAddress: String,
            initialCluster: [(name: String, peerAddress: String)], clusterToken: String = "keel-embedded",
            settings: [ConfigSetting: String] = [:]
        ) {
            self.name = name
            self.dataDirectory = dataDirectory
            self.clientAddress = clientAddress
            self.peerAddress = peerAddress
            self.initialCluster = initialCluster
            self.clusterToken = clusterToken
            self.settings = settings
        }

        /// The settings kvd would get as flags.
        var values: ConfigValues {
            var flags = settings
            flags[.name] = name
            flags[.dataDir] = dataDirectory
            flags[.listenClientURLs] = "http://\(clientAddress)"
            flags[.advertiseClientURLs] = "http://\(clientAddress)"
            flags[.listenPeerURLs] = "http://\(peerAddress)"
            flags[.initialAdvertisePeerURLs] = "http://\(peerAddress)"
            flags[.initialCluster] = initialCluster.map { "\($0.name)=http://\($0.peerAddress)" }.joined(separator: ",")
            flags[.initialClusterToken] = clusterToken
            // No HTTP metrics port unless asked: several embedded members share one process.
            if flags[.listenMetricsURLs] == nil { flags[.listenMetricsURLs] = "" }
            return ConfigValues(flags: flags)
        }
    }

    /// The configuration it was made with.
    public let configuration: Configuration
    /// The replicated node itself (status, members, the watch hub).
    public var node: KeelNode { server.node }
    private let server: KvdServer

    /// Checks the configuration and opens the data directory; serves nothing until ``run()``.
    ///
    /// - Throws: `ConfigError` for a bad setting (the message names it), `StartupError` when the
    ///   data directory cannot be opened or belongs to another cluster or member.
    public init(configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        let config = try ServerConfig.resolve(configuration.values)
        server = try KvdServer(config: config, network: KvdMain.makeTransport(config: config, logger: logger), logger: logger)
    }

    /// Serves until graceful shutdown (from the service group, or ``shutdown()``).
    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await server.run()
        } onGracefulShutdown: { [server] in
            Task { await server.shutdown() }
        }
    }

    /// Starts a graceful shutdown: a leader hands over first, as kvd does on SIGTERM.
    public func shutdown() async { await server.shutdown() }

    /// Waits until the member listens, then runs `body` with a client of it (other members'
    /// addresses in `extraEndpoints` let the client go on when this one is stopping).
    public func withClient<Result: Sendable>(
        extraEndpoints: [String] = [], commandTimeout: Duration = .seconds(5),
        _ body: (KeelClient) async throws -> Result
    ) async throws -> Result {
        guard await server.boundPorts() != nil else { throw EmbeddedMemberError("member \(configuration.name) stopped before it listened") }
        let endpoints = try Endpoint.parseList(([configuration.clientAddress] + extraEndpoints).joined(separator: ","))
        return try await KeelClient.withClient(KeelClientConfiguration(endpoints: endpoints, commandTimeout: commandTimeout)) { client in
            try await body(client)
        }
    }
}

/// Why an embedded member could not be used.
public struct EmbeddedMemberError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public var description: String
    init(_ description: String) { self.description = description }
}
