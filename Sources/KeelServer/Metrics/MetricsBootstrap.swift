import Metrics
import Prometheus

/// Installs swift-prometheus as the process's metrics backend, once.
///
/// swift-metrics allows one bootstrap per process, and both kvd and the in-process tests start
/// servers; so the first caller bootstraps and everyone shares the registry.
public enum MetricsBootstrap {
    /// The registry every metric of the process is recorded in.
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = etcdHistogramBuckets
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    /// etcd 3.4's buckets for the histograms that kvd also exports under etcd's names, so that
    /// dashboards' quantiles and alert thresholds (e.g. fsync p99 over 10 ms) read the same.
    static let etcdHistogramBuckets: [String: [Duration]] = [
        // 1 ms doubling to 8.192 s (14 buckets), as etcd's wal and backend histograms.
        "etcd_disk_wal_fsync_duration_seconds": doubling(from: .microseconds(1_000), count: 14),
        "etcd_disk_backend_commit_duration_seconds": doubling(from: .microseconds(1_000), count: 14),
        // 0.1 ms doubling to 3.2768 s (16 buckets), as etcd's rafthttp histogram.
        "etcd_network_peer_round_trip_time_seconds": doubling(from: .microseconds(100), count: 16),
    ]

    static func doubling(from start: Duration, count: Int) -> [Duration] {
        (0..<count).map { start * (1 << $0) }
    }
}
