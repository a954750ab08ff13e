import Raft

/// How one node runs: who it is, where its data lives, and its limits.
public struct NodeConfig: Sendable {
    /// The member's name (`--name`).
    public var name: String
    /// The data directory; created if missing. Holds the identity file and the RocksDB database.
    public var dataDirectory: String
    /// The initial cluster, this node included.
    public var members: [MemberInfo]
    /// This node's member id.
    public var selfID: NodeID
    /// The cluster's id (``MemberIdentity/clusterID(memberIDs:clusterToken:)``).
    public var clusterID: UInt64
    /// The cluster token (`--initial-cluster-token`).
    public var clusterToken: String
    /// Whether the cluster is being created (`--initial-cluster-state new`): a fresh data directory
    /// then bootstraps the membership; otherwise a fresh node waits for a leader's snapshot.
    public var isNewCluster: Bool
    /// The Raft tick (etcd's `--heartbeat-interval`).
    public var tickInterval: Duration = .milliseconds(100)
    /// Ticks without a leader before an election (etcd's `--election-timeout` / heartbeat interval).
    public var electionTimeoutTicks: Int = 10
    /// A snapshot is taken (and the log compacted) after this many entries applied since the last one.
    public var snapshotEntries: UInt64 = 10_000
    /// Entries kept in the log behind a snapshot (etcd's SnapshotCatchUpEntries): the log is
    /// compacted to a snapshot only once this many entries were applied after it, so a follower a
    /// little behind (restarted, paused, the slowest under load) gets entries, not the whole image.
    public var snapshotCatchUpEntries: UInt64 = NodeConfig.snapshotCatchUpEntriesDefault
    /// Proposals (and, separately, linearizable reads) waiting for an outcome beyond this number are
    /// refused with ``KeelError/Code/resourceExhausted``.
    public var pendingProposalsMax: Int = 4096
    /// The deadline a request gets when its caller has none.
    public var requestTimeout: Duration = .seconds(5)
    /// The largest request accepted (etcd's `--max-request-bytes`, 1.5 MiB).
    public var maxRequestBytes: Int = 1_572_864
    /// etcd's `--quota-backend-bytes`: a write that would take the key-value state to this size
    /// raises NOSPACE and is refused; 0 turns the quota off.
    public var quotaBytes: Int64 = 2 << 30
    /// A backup (`kvctl snapshot save`) a new cluster starts from, on a fresh data directory.
    public var restoreFrom: String?
    /// etcd's `--auto-compaction-mode` and `--auto-compaction-retention`; nil: no auto-compaction.
    public var autoCompaction: AutoCompactor.Policy?
    /// The client URLs this node serves, reported to clients in the member list.
    public var clientURLs: [String] = []
    /// How long a lease may go without a renewal before the leader records its remaining time
    /// through the log. A lease outlives its TTL across a leader change by at most about this
    /// plus the time without a leader plus an election timeout (README, "Leases").
    public var leaseCheckpointInterval: Duration = .seconds(5)
    /// Leases beyond this number are refused with ``KeelError/Code/resourceExhausted``.
    public var leasesMax: Int = 1_000_000
    /// Keys one lease may hold (every member must use the same value).
    public var keysPerLeaseMax: Int64 = 10_000
    /// Limits on watch streams and watchers.
    public var watchLimits = WatchLimits()
    /// Expired leases revoked per tick at most (etcd revokes 1000 a second).
    public var leaseRevokesPerTick: Int = 100
    /// Lease checkpoints per tick at most (one log entry).
    public var leaseCheckpointsPerTick: Int = 1000

    /// How linearizable reads confirm leadership.
    public var readMode: ReadMode = .readIndex
    /// With ``ReadMode/lease``: the clock drift, in ticks, the leader lease allows for (thesis
    /// §6.4.1): the lease lasts (election timeout - 1 - this) ticks after a quorum answered.
    public var leaseClockDriftBoundTicks: Int = 2

    /// How linearizable reads confirm leadership (thesis §6.4).
    public enum ReadMode: String, Sendable, CaseIterable {
        /// A heartbeat round per batch of reads (ReadIndex): safe whatever the clocks do.
        case readIndex = "readindex"
        /// The leader answers within its lease without a round trip; safe only while every
        /// member's clock runs at a rate within the drift bound of the others'.
        case lease
    }

    /// One election timeout.
    public var electionTimeout: Duration { tickInterval * electionTimeoutTicks }

    /// etcd's shortest TTL: one and a half election timeouts, rounded up to whole seconds, so a
    /// lease survives a leader change that clients notice and recover from.
    public var leaseTTLSecondsMin: Int64 {
        let milliseconds = Lessor.milliseconds(electionTimeout * 3 / 2)
        return max(1, (milliseconds + 999) / 1000)
    }

    /// etcd's SnapshotCatchUpEntries.
    public static let snapshotCatchUpEntriesDefault: UInt64 = 5000

    /// Creates a configuration with etcd's default timings and limits.
    public init(
        name: String, dataDirectory: String, members: [MemberInfo], selfID: NodeID, clusterID: UInt64, clusterToken: String,
        isNewCluster: Bool
    ) {
        self.name = name
        self.dataDirectory = dataDirectory
        self.members = members
        self.selfID = selfID
        self.clusterID = clusterID
        self.clusterToken = clusterToken
        self.isNewCluster = isNewCluster
    }
}
