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
}

extension Gauge {
    func recordSeconds(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        record(Double(seconds) + Double(attoseconds) / 1e18)
    }
}
