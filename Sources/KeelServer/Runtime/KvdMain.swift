import Foundation
import KeelNode
import KeelTransport
import Logging
import Raft

extension TCPPeerTransport: LifecyclePeerNetwork {}

/// The kvd process: configuration, logging, metrics, the server, and exit codes.
public enum KvdMain {
    /// The server version reported by `kvd --version` and the Status call.
    public static let version = KeelNode.version

    /// Exit code for a configuration kvd refuses.
    public static let exitCodeBadConfig: Int32 = 2
    /// Exit code for a failure to start or a failure while running.
    public static let exitCodeFailure: Int32 = 1

    /// Runs kvd until SIGTERM or SIGINT; returns the process exit code (0 after a graceful
    /// shutdown). Every failure is printed as one line on standard error.
    public static func run(
        flags: [ConfigSetting: String], configFilePath: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) async -> Int32 {
        var config: ServerConfig
        let values: ConfigValues
        let tls: ServerTLSContexts
        do {
            values = try ConfigValues.gather(flags: flags, configFilePath: configFilePath, environment: environment)
            config = try ServerConfig.resolve(values)
            // Certificate files are read before anything else starts, so a bad one is a bad configuration.
            tls = try ServerTLSContexts(config: config)
        } catch {
            printError("kvd: \(error.message)")
            return exitCodeBadConfig
        }
        LogSetup.bootstrap(level: config.logLevel)
        _ = MetricsBootstrap.registry
        let logger = Logger(label: "kvd")
        if let warning = IgnoredSetting.warning(for: values.ignored) {
            logger.warning("\(warning)")
        }
        for warning in config.tlsWarnings { logger.warning("\(warning)") }
        do {
            if config.initialClusterState == .existing {
                config.existingIdentity = try await JoinExisting.identity(for: config, tls: tls.peer, logger: logger)
            }
            let transport = try makeTransport(config: config, tls: tls, logger: logger)
            let server = try KvdServer(config: config, network: transport, tls: tls, logger: logger)
            let node = server.node
            transport.answerMembershipQueries { await node.membershipAnswer() }
            logger.info(
                "kvd starting",
                metadata: [
                    "name": "\(config.name)", "data-dir": "\(config.dataDirectory)",
                    "client-urls": "\(config.listenClientURLs.map(\.description))", "peer-url": "\(config.listenPeerURL)",
                    "metrics-urls": "\(config.listenMetricsURLs.map(\.description))",
                    "initial-cluster": "\(config.initialCluster.map { "\($0.name)=\($0.peerURLs.map(\.description).joined(separator: ","))" })",
                ])
            try await server.run(shutdownSignals: [.sigterm, .sigint])
            logger.info("kvd stopped")
            return 0
        } catch let error as StartupError {
            printError("kvd: \(error.message)")
            return exitCodeFailure
        } catch {
            printError("kvd: \(error)")
            return exitCodeFailure
        }
    }

    /// The TCP transport for the configuration: peers are the other members at their first
    /// peer URL, dialled over TLS where that URL is `https`.
    ///
    /// - Parameter tls: the contexts read from the certificate files; read here when not given.
    /// - Throws: ``ConfigError`` when a peer certificate file cannot be used.
    public static func makeTransport(
        config: ServerConfig, tls: ServerTLSContexts? = nil, logger: Logger
    ) throws(ConfigError) -> TCPPeerTransport {
        var peerTLS: PeerTLS?
        if let tls {
            peerTLS = tls.peer
        } else {
            peerTLS = try ServerTLSContexts(config: config).peer
        }
        // The listener follows its own URL's scheme; dialling follows each peer's.
        if !config.listenPeerURL.usesTLS { peerTLS?.server = nil }
        let nodeConfig = config.nodeConfig
        var peers: [NodeID: PeerAddress] = [:]
        if config.existingIdentity != nil {
            // The node points the transport at the members as applied once it starts.
            for info in nodeConfig.members where info.id != nodeConfig.selfID {
                if let address = info.peerURLs.lazy.compactMap(PeerAddress.init(url:)).first { peers[info.id] = address }
            }
        } else {
            for (member, info) in zip(config.initialCluster, nodeConfig.members) where info.id != nodeConfig.selfID {
                guard let url = member.peerURLs.first else { continue }
                peers[info.id] = PeerAddress(host: url.host, port: url.port, usesTLS: url.usesTLS)
            }
        }
        return TCPPeerTransport(
            selfID: nodeConfig.selfID, clusterID: nodeConfig.clusterID,
            attributes: MemberAttributes(name: config.name, clientURLs: config.advertiseClientURLs.map(\.description)),
            listenHost: config.listenPeerURL.listenHost, listenPort: config.listenPeerURL.port, peers: peers,
            tls: peerTLS, logger: logger
        )
    }

    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
