/// One setting of kvd. The raw value is both the flag name (without `--`) and the config-file
/// key, as in etcd, so a file written for etcd reads the same way here.
public enum ConfigSetting: String, CaseIterable, Sendable, Hashable {
    /// The member's human-readable name.
    case name = "name"
    /// Where the member keeps its Raft log, snapshots and key-value data.
    case dataDir = "data-dir"
    /// Where the gRPC client API listens.
    case listenClientURLs = "listen-client-urls"
    /// The client URLs announced to peers and clients (MemberList).
    case advertiseClientURLs = "advertise-client-urls"
    /// Where the peer transport listens.
    case listenPeerURLs = "listen-peer-urls"
    /// This member's peer URLs as the other members know them.
    case initialAdvertisePeerURLs = "initial-advertise-peer-urls"
    /// Every member of the initial cluster: `name=url,name=url`.
    case initialCluster = "initial-cluster"
    /// `new` for a cluster being created, `existing` to join one.
    case initialClusterState = "initial-cluster-state"
    /// A token that makes the member and cluster ids of different clusters differ.
    case initialClusterToken = "initial-cluster-token"
    /// Raft's heartbeat interval (one tick), milliseconds.
    case heartbeatInterval = "heartbeat-interval"
    /// Raft's election timeout, milliseconds.
    case electionTimeout = "election-timeout"
    /// Applied entries between two snapshots.
    case snapshotCount = "snapshot-count"
    /// The largest client request accepted, bytes.
    case maxRequestBytes = "max-request-bytes"
    /// Extra HTTP/1 listeners for `/metrics`, `/health` and `/version`, which the client URLs serve
    /// as well.
    case listenMetricsURLs = "listen-metrics-urls"
    /// The least severe log level written: debug, info, warn, error.
    case logLevel = "log-level"
    /// How long a lease may go without a keepalive before the leader records its remaining time
    /// through the log, milliseconds (etcd's `--experimental-lease-checkpoint-interval`).
    case leaseCheckpointInterval = "lease-checkpoint-interval"
    /// How linearizable reads confirm leadership: `readindex` (a heartbeat round, the default) or
    /// `lease` (the leader's lease, thesis §6.4.1; safe only with bounded clock drift).
    case readMode = "read-mode"
    /// With `--read-mode=lease`: the clock drift the lease allows for, milliseconds (rounded up to
    /// whole heartbeats); the lease lasts an election timeout less one heartbeat less this.
    case leaseReadClockDrift = "lease-read-clock-drift"
    /// How often a watcher that asked for progress notifications and saw no change is told the
    /// current revision, milliseconds (etcd's `--experimental-watch-progress-notify-interval`).
    case watchProgressNotifyInterval = "watch-progress-notify-interval"
    /// etcd's storage quota in bytes: 0 for etcd's default (2 GiB), negative for none.
    case quotaBackendBytes = "quota-backend-bytes"
    /// etcd's auto-compaction mode: `periodic` (a retention in time) or `revision`.
    case autoCompactionMode = "auto-compaction-mode"
    /// etcd's auto-compaction retention: a duration or hours (periodic), revisions (revision); 0: off.
    case autoCompactionRetention = "auto-compaction-retention"
    /// Not etcd's (etcdctl restores offline): a backup from `kvctl snapshot save` that a new
    /// member starts from, on an empty data directory with `--initial-cluster-state new`.
    case restoreFrom = "restore-from"
    /// The client URLs' TLS certificate (PEM); with `--key-file`, needed by `https` client URLs.
    case certFile = "cert-file"
    /// The private key (PEM) of `--cert-file`.
    case keyFile = "key-file"
    /// The CA certificates (PEM) that client certificates must be signed by.
    case trustedCAFile = "trusted-ca-file"
    /// `true`: an `https` client URL refuses clients without a certificate from `--trusted-ca-file`.
    case clientCertAuth = "client-cert-auth"
    /// The peer URLs' TLS certificate (PEM), presented both when accepting and when dialling.
    case peerCertFile = "peer-cert-file"
    /// The private key (PEM) of `--peer-cert-file`.
    case peerKeyFile = "peer-key-file"
    /// The CA certificates (PEM) that peers' certificates are checked against, both ways.
    case peerTrustedCAFile = "peer-trusted-ca-file"
    /// `true`: an `https` peer URL refuses peers without a certificate from `--peer-trusted-ca-file`.
    case peerClientCertAuth = "peer-client-cert-auth"

    /// The command-line flag, `--name`.
    public var flag: String { "--" + rawValue }
}

/// Where a configuration value came from, so an error can point at it.
public enum ConfigOrigin: Sendable, Hashable {
    /// A command-line flag.
    case flag
    /// A key of the config file at this path.
    case file(String)
    /// An `ETCD_*` environment variable, named.
    case environment(String)
}

/// A setting's text as given, before it is parsed and checked.
public struct ConfigValue: Sendable, Hashable {
    /// The text (lists comma-separated, as on the command line).
    public var text: String
    /// Where it came from.
    public var origin: ConfigOrigin

    /// Creates a value.
    public init(text: String, origin: ConfigOrigin) {
        self.text = text
        self.origin = origin
    }
}

/// The settings given by flags and by a config file, unparsed. Flags override the file.
public struct ConfigValues: Sendable, Hashable {
    /// The given settings; an absent setting takes its default.
    public private(set) var values: [ConfigSetting: ConfigValue] = [:]
    /// Settings given that kvd does not implement, in the order met.
    public private(set) var ignored: [IgnoredSetting] = []

    /// Creates an empty set of values (every setting at its default).
    public init() {}

    /// Creates values from flags: `[.name: "infra1"]`.
    public init(flags: [ConfigSetting: String]) {
        for (setting, text) in flags {
            values[setting] = ConfigValue(text: text, origin: .flag)
        }
    }

    /// The value of a setting, if given.
    public subscript(setting: ConfigSetting) -> ConfigValue? {
        get { values[setting] }
        set { values[setting] = newValue }
    }

    /// Records a setting kvd does not implement.
    public mutating func ignore(_ setting: IgnoredSetting) {
        ignored.append(setting)
    }

    /// These values, with every setting that `overrides` gives replaced by it (the ignored ones
    /// of both are kept).
    public func overridden(by overrides: ConfigValues) -> ConfigValues {
        var merged = self
        for (setting, value) in overrides.values {
            merged.values[setting] = value
        }
        merged.ignored += overrides.ignored
        return merged
    }

    /// How an error message names a setting: the flag, or the file key with its file.
    public func describe(_ setting: ConfigSetting) -> String {
        switch values[setting]?.origin {
        case .file(let path): "config key '\(setting.rawValue)' in \(path)"
        case .environment(let variable): variable
        case .flag, nil: setting.flag
        }
    }
}
