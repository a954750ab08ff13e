import ArgumentParser
import KeelServer

/// kvd's command line: etcd's flags, each optional so that an absent flag leaves the config
/// file's value (or the default) in place.
struct KvdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kvd",
        abstract: "A replicated key-value server that speaks etcd's v3 API.",
        discussion: """
            With no flags, kvd runs a one-member cluster: clients on http://127.0.0.1:2379, peers on \
            http://127.0.0.1:2380, /metrics, /health and /version on the client URLs too, data in ./default.kvd. \
            https URLs serve TLS with --cert-file/--key-file (clients) and --peer-cert-file/--peer-key-file (peers).
            """,
        version: KvdMain.version
    )

    @Option(name: .customLong("config-file"), help: "A YAML file with etcd's config-file keys; flags override it.")
    var configFile: String?
    @Option(name: .customLong("name"), help: "The member's name (default: default).")
    var name: String?
    @Option(name: .customLong("data-dir"), help: "The data directory (default: <name>.kvd).")
    var dataDir: String?
    @Option(name: .customLong("listen-client-urls"), help: "Comma-separated URLs to serve clients (gRPC) on (default: http://127.0.0.1:2379).")
    var listenClientURLs: String?
    @Option(name: .customLong("advertise-client-urls"), help: "Client URLs told to peers and clients (default: the listen URLs).")
    var advertiseClientURLs: String?
    @Option(name: .customLong("listen-peer-urls"), help: "The URL to serve peers on (default: http://127.0.0.1:2380).")
    var listenPeerURLs: String?
    @Option(name: .customLong("initial-advertise-peer-urls"), help: "This member's peer URLs as the cluster knows them (default: the listen URL).")
    var initialAdvertisePeerURLs: String?
    @Option(name: .customLong("initial-cluster"), help: "The initial members: name=http://host:port,... (default: <name>=<advertised peer URL>).")
    var initialCluster: String?
    @Option(name: .customLong("initial-cluster-state"), help: "new or existing (default: new).")
    var initialClusterState: String?
    @Option(name: .customLong("initial-cluster-token"), help: "Makes ids of different clusters differ (default: etcd-cluster).")
    var initialClusterToken: String?
    @Option(name: .customLong("heartbeat-interval"), help: "Heartbeat interval in milliseconds (default: 100).")
    var heartbeatInterval: String?
    @Option(name: .customLong("election-timeout"), help: "Election timeout in milliseconds, at least 5 heartbeats (default: 1000).")
    var electionTimeout: String?
    @Option(name: .customLong("snapshot-count"), help: "Applied entries between snapshots (default: 10000).")
    var snapshotCount: String?
    @Option(name: .customLong("max-request-bytes"), help: "The largest client request in bytes (default: 1572864).")
    var maxRequestBytes: String?
    @Option(name: .customLong("listen-metrics-urls"), help: "Comma-separated extra URLs for /metrics, /health and /version, which the client URLs also serve (default: none).")
    var listenMetricsURLs: String?
    @Option(name: .customLong("log-level"), help: "debug, info, warn or error (default: info).")
    var logLevel: String?
    @Option(
        name: .customLong("lease-checkpoint-interval"),
        help: "Milliseconds a lease may go without a keepalive before the leader records its remaining TTL, or a twentieth of the TTL if longer, at most half the TTL (default: 5000).")
    var leaseCheckpointInterval: String?
    @Option(name: .customLong("read-mode"), help: "readindex (a heartbeat round per read batch) or lease (the leader's lease; needs bounded clock drift) (default: readindex).")
    var readMode: String?
    @Option(name: .customLong("lease-read-clock-drift"), help: "With --read-mode lease: the clock drift allowed for, in milliseconds (default: 200).")
    var leaseReadClockDrift: String?
    @Option(
        name: .customLong("watch-progress-notify-interval"),
        help: "Milliseconds between progress notifications to idle watchers that asked for them (default: 600000).")
    var watchProgressNotifyInterval: String?
    @Option(name: .customLong("quota-backend-bytes"), help: "The key-value store's quota in bytes; over it NOSPACE is raised and writes refused (default: 0, etcd's 2 GiB; negative: none).")
    var quotaBackendBytes: String?
    @Option(name: .customLong("auto-compaction-mode"), help: "periodic (keep a retention in time) or revision (keep a number of revisions) (default: periodic).")
    var autoCompactionMode: String?
    @Option(name: .customLong("auto-compaction-retention"), help: "periodic: a duration (30m, 1h) or hours; revision: revisions; 0: no auto-compaction (default: 0).")
    var autoCompactionRetention: String?
    @Option(name: .customLong("restore-from"), help: "A backup from `kvctl snapshot save` that a new cluster starts from (each member, on an empty data directory).")
    var restoreFrom: String?
    @Option(name: .customLong("cert-file"), help: "The TLS certificate (PEM) of the https client URLs.")
    var certFile: String?
    @Option(name: .customLong("key-file"), help: "The private key (PEM) of --cert-file.")
    var keyFile: String?
    @Option(name: .customLong("trusted-ca-file"), help: "The CA (PEM) that client certificates must be signed by.")
    var trustedCAFile: String?
    @Option(name: .customLong("client-cert-auth"), help: ArgumentHelp("Refuse clients of https URLs without a certificate from --trusted-ca-file (alone, or =true/=false).", valueName: "bool"))
    var clientCertAuth: String?
    @Option(name: .customLong("peer-cert-file"), help: "The TLS certificate (PEM) of the https peer URLs, also presented when dialling peers.")
    var peerCertFile: String?
    @Option(name: .customLong("peer-key-file"), help: "The private key (PEM) of --peer-cert-file.")
    var peerKeyFile: String?
    @Option(name: .customLong("peer-trusted-ca-file"), help: "The CA (PEM) that peers' certificates are checked against.")
    var peerTrustedCAFile: String?
    @Option(name: .customLong("peer-client-cert-auth"), help: ArgumentHelp("Refuse peers without a certificate from --peer-trusted-ca-file (alone, or =true/=false).", valueName: "bool"))
    var peerClientCertAuth: String?

    /// The flags given, keyed by setting.
    var flags: [ConfigSetting: String] {
        let pairs: [(ConfigSetting, String?)] = [
            (.name, name), (.dataDir, dataDir), (.listenClientURLs, listenClientURLs), (.advertiseClientURLs, advertiseClientURLs),
            (.listenPeerURLs, listenPeerURLs), (.initialAdvertisePeerURLs, initialAdvertisePeerURLs), (.initialCluster, initialCluster),
            (.initialClusterState, initialClusterState), (.initialClusterToken, initialClusterToken),
            (.heartbeatInterval, heartbeatInterval), (.electionTimeout, electionTimeout), (.snapshotCount, snapshotCount),
            (.maxRequestBytes, maxRequestBytes), (.listenMetricsURLs, listenMetricsURLs), (.logLevel, logLevel),
            (.leaseCheckpointInterval, leaseCheckpointInterval), (.readMode, readMode), (.leaseReadClockDrift, leaseReadClockDrift),
            (.watchProgressNotifyInterval, watchProgressNotifyInterval), (.quotaBackendBytes, quotaBackendBytes),
            (.autoCompactionMode, autoCompactionMode), (.autoCompactionRetention, autoCompactionRetention),
            (.restoreFrom, restoreFrom), (.certFile, certFile), (.keyFile, keyFile), (.trustedCAFile, trustedCAFile),
            (.peerCertFile, peerCertFile), (.peerKeyFile, peerKeyFile), (.peerTrustedCAFile, peerTrustedCAFile),
            (.clientCertAuth, clientCertAuth), (.peerClientCertAuth, peerClientCertAuth),
        ]
        var flags: [ConfigSetting: String] = [:]
        for (setting, value) in pairs {
            if let value { flags[setting] = value }
        }
        return flags
    }
}

extension KvdCommand {
    /// etcd's boolean flags, which Go's flag package takes alone (`--client-cert-auth`) or with a
    /// value after `=` (`--client-cert-auth=false`, as Kubernetes manifests write them).
    static let booleanFlags: Set<String> = ["--client-cert-auth", "--peer-client-cert-auth"]

    /// The arguments with each boolean flag given alone spelled `--flag=true`, so that one option
    /// takes both forms and the value is checked with the config file's and environment's.
    static func spellingOutBooleans(_ arguments: [String]) -> [String] {
        arguments.map { booleanFlags.contains($0) ? $0 + "=true" : $0 }
    }
}
