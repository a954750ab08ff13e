import KeelNode
import Logging

/// One member of `--initial-cluster`.
public struct InitialMember: Sendable, Hashable {
    /// The member's name.
    public var name: String
    /// Its peer URLs, in the order given.
    public var peerURLs: [ServerURL]

    /// Creates a member entry.
    public init(name: String, peerURLs: [ServerURL]) {
        self.name = name
        self.peerURLs = peerURLs
    }
}

/// Whether this member creates a cluster or joins one (`--initial-cluster-state`).
public enum InitialClusterState: String, Sendable, Hashable {
    /// The members of `--initial-cluster` are starting together.
    case new
    /// The cluster exists; this member joins it.
    case existing
}

/// kvd's configuration after merging flags over the config file, filling defaults and checking
/// every value. Built by ``ServerConfig/resolve(_:)``.
public struct ServerConfig: Sendable, Hashable {
    /// `--name`.
    public var name: String
    /// `--data-dir`.
    public var dataDirectory: String
    /// `--listen-client-urls`: one gRPC listener each.
    public var listenClientURLs: [ServerURL]
    /// `--advertise-client-urls`.
    public var advertiseClientURLs: [ServerURL]
    /// `--listen-peer-urls`: exactly one (the peer transport has one listener).
    public var listenPeerURL: ServerURL
    /// `--initial-advertise-peer-urls`.
    public var initialAdvertisePeerURLs: [ServerURL]
    /// `--initial-cluster`, in the order given.
    public var initialCluster: [InitialMember]
    /// `--initial-cluster-state`.
    public var initialClusterState: InitialClusterState
    /// For a member of an existing cluster: the ids the cluster knows it by and its members
    /// (``JoinExisting``), which `--initial-cluster` cannot tell (a member added later has an id
    /// the cluster chose). Nil: derived from `--initial-cluster`.
    public var existingIdentity: ExistingIdentity?
    /// `--initial-cluster-token`.
    public var initialClusterToken: String
    /// `--heartbeat-interval`, milliseconds.
    public var heartbeatIntervalMilliseconds: Int
    /// `--election-timeout`, milliseconds.
    public var electionTimeoutMilliseconds: Int
    /// `--snapshot-count`.
    public var snapshotCount: UInt64
    /// `--max-request-bytes`.
    public var maxRequestBytes: Int
    /// `--listen-metrics-urls`: HTTP/1 listeners for `/metrics` and `/health`; may be empty.
    public var listenMetricsURLs: [ServerURL]
    /// `--log-level`.
    public var logLevel: Logger.Level
    /// `--read-mode`.
    public var readMode: NodeConfig.ReadMode = .readIndex
    /// `--lease-read-clock-drift`, milliseconds.
    public var leaseReadClockDriftMilliseconds: Int = Defaults.leaseReadClockDriftMilliseconds
    /// `--watch-progress-notify-interval`, milliseconds.
    public var watchProgressNotifyIntervalMilliseconds: Int = Defaults.watchProgressNotifyIntervalMilliseconds
    /// `--lease-checkpoint-interval`, milliseconds.
    public var leaseCheckpointIntervalMilliseconds: Int = Defaults.leaseCheckpointIntervalMilliseconds
    /// `--quota-backend-bytes` as given: 0 for etcd's default, negative for no quota.
    public var quotaBackendBytes: Int = 0
    /// `--auto-compaction-mode` and `--auto-compaction-retention`; nil: off.
    public var autoCompaction: AutoCompactor.Policy?
    /// `--restore-from`: the backup a new cluster starts from.
    public var restoreFrom: String?
    /// `--cert-file`, `--key-file`, `--trusted-ca-file`, `--client-cert-auth`: used by `https`
    /// client URLs.
    public var clientTLS = TLSFiles()
    /// `--peer-cert-file`, `--peer-key-file`, `--peer-trusted-ca-file`, `--peer-client-cert-auth`:
    /// used by an `https` peer URL and to dial `https` peers.
    public var peerTLS = TLSFiles()

    /// The defaults, chosen like etcd's (its `<name>.etcd` data directory becomes `<name>.kvd`).
    public enum Defaults {
        /// `--name`.
        public static let name = "default"
        /// `--listen-client-urls` and `--advertise-client-urls`.
        public static let clientURL = "http://127.0.0.1:2379"
        /// `--listen-peer-urls` and `--initial-advertise-peer-urls`.
        public static let peerURL = "http://127.0.0.1:2380"
        /// `--listen-metrics-urls`: none, as in etcd. `/metrics`, `/health` and `/version` are
        /// served on the client URLs; a separate listener is an extra (and a fixed default port
        /// would make members started on one host collide).
        public static let metricsURLs = ""
        /// `--initial-cluster-token`.
        public static let clusterToken = "etcd-cluster"
        /// `--heartbeat-interval`.
        public static let heartbeatIntervalMilliseconds = 100
        /// `--election-timeout`.
        public static let electionTimeoutMilliseconds = 1_000
        /// `--lease-checkpoint-interval`: etcd's is 5 minutes and off by default; Keel checkpoints
        /// by default, so a leader change moves a lease's expiry by seconds, not minutes.
        public static let leaseCheckpointIntervalMilliseconds = 5_000
        /// `--lease-read-clock-drift`: two heartbeats at the default timings, a lease of 700 ms in
        /// an election timeout of 1 s (clocks may run up to 9/7 of each other's rate).
        public static let leaseReadClockDriftMilliseconds = 200
        /// `--watch-progress-notify-interval`: etcd's ten minutes.
        public static let watchProgressNotifyIntervalMilliseconds = 600_000
        /// `--snapshot-count`: the node's default (etcd's is 100000, which keeps more log in memory).
        public static let snapshotCount: UInt64 = 10_000
        /// `--max-request-bytes`: etcd's 1.5 MiB.
        public static let maxRequestBytes = 1_572_864
        /// `--log-level`.
        public static let logLevel = "info"
        /// The quota when `--quota-backend-bytes` is 0: etcd's 2 GiB.
        public static let quotaBackendBytes: Int64 = 2 << 30

        /// `--data-dir` for a member name.
        public static func dataDirectory(name: String) -> String { "\(name).kvd" }
    }

    /// Limits the configuration is checked against.
    public enum Limits {
        /// The election timeout must span at least this many heartbeats (etcd's rule), so a
        /// follower does not start elections while heartbeats are merely late.
        public static let electionToHeartbeatRatioMin = 5
        /// etcd's upper bound on `--election-timeout`.
        public static let electionTimeoutMillisecondsMax = 50_000
        /// The smallest `--heartbeat-interval`: the node ticks on a timer and shorter ticks only burn CPU.
        public static let heartbeatIntervalMillisecondsMin = 1
        /// The largest `--max-request-bytes`; gRPC messages above this are refused anyway.
        public static let maxRequestBytesMax = 64 * 1024 * 1024
        /// The most members of `--initial-cluster`.
        public static let membersMax = 64
    }
}
