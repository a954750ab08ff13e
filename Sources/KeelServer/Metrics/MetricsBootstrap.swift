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
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()
}
