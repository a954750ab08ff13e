import Metrics

/// The node's metrics (names follow etcd's `etcd_server_*` / `etcd_disk_*`); the server bootstraps
/// the Prometheus backend.
struct NodeMetrics {
    let proposalsCommitted = Counter(label: "keel_proposals_committed_total")
    let proposalsApplied = Counter(label: "keel_proposals_applied_total")
    let proposalsFailed = Counter(label: "keel_proposals_failed_total")
    let proposalsPending = Gauge(label: "keel_proposals_pending")
    let leaderChanges = Counter(label: "keel_leader_changes_seen_total")
    let hasLeader = Gauge(label: "keel_has_leader")
    let fsyncDuration = Metrics.Timer(label: "keel_disk_fsync_duration_seconds")
    let applyDuration = Metrics.Timer(label: "keel_apply_duration_seconds")
    let leasesGranted = Counter(label: "keel_lease_granted_total")
    let leasesRevoked = Counter(label: "keel_lease_revoked_total")
    let leasesExpired = Counter(label: "keel_lease_expired_total")
    let leaseKeepalives = Counter(label: "keel_lease_renewed_total")
    /// How long the oldest due lease checkpoint has waited on the primary.
    let leaseCheckpointLag = Gauge(label: "keel_lease_checkpoint_lag_seconds")
    /// The same facts under etcd's names and types, for etcd's dashboards and alerts.
    let etcd = EtcdServerMetrics()
}

/// etcd 3.4's `etcd_server_*` and `etcd_disk_*` metrics, with etcd's types: its proposal
/// "totals" are gauges holding Raft's commit and applied indexes, not counts of commands.
struct EtcdServerMetrics {
    let hasLeader = Gauge(label: "etcd_server_has_leader")
    let isLeader = Gauge(label: "etcd_server_is_leader")
    let leaderChanges = Counter(label: "etcd_server_leader_changes_seen_total")
    let proposalsCommitted = Gauge(label: "etcd_server_proposals_committed_total")
    let proposalsApplied = Gauge(label: "etcd_server_proposals_applied_total")
    let proposalsPending = Gauge(label: "etcd_server_proposals_pending")
    let proposalsFailed = Counter(label: "etcd_server_proposals_failed_total")
    /// The synced write of the Raft log (etcd's WAL fsync).
    let walFsyncDuration = Metrics.Timer(label: "etcd_disk_wal_fsync_duration_seconds")
    /// Applying committed entries to the RocksDB state machine (etcd's bbolt commit).
    let backendCommitDuration = Metrics.Timer(label: "etcd_disk_backend_commit_duration_seconds")
}

extension NodeMetrics {
    /// Counts a proposal that failed, under Keel's name and etcd's.
    func proposalFailed() {
        proposalsFailed.increment()
        etcd.proposalsFailed.increment()
    }

    /// Records how many proposals wait for their commit, under Keel's name and etcd's.
    func recordPending(_ count: Int) {
        proposalsPending.record(count)
        etcd.proposalsPending.record(count)
    }
}

extension Gauge {
    func recordSeconds(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        record(Double(seconds) + Double(attoseconds) / 1e18)
    }
}
