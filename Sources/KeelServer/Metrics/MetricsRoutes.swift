import Prometheus

/// An HTTP answer of the metrics listener.
public struct HTTPAnswer: Sendable, Hashable {
    /// The status code.
    public var status: Int
    /// The `Content-Type`.
    public var contentType: String
    /// The body.
    public var body: [UInt8]
}

/// The routes of the metrics listener: `/metrics` and `/health`, GET (and HEAD) only.
public struct MetricsRoutes: Sendable {
    /// Where the Prometheus text comes from.
    public let registry: PrometheusCollectorRegistry
    /// Asks the node whether it is healthy.
    public let health: @Sendable () async -> HealthReport

    /// Creates the routes.
    public init(registry: PrometheusCollectorRegistry, health: @escaping @Sendable () async -> HealthReport) {
        self.registry = registry
        self.health = health
    }

    /// The answer to a request for `uri` with `method`.
    public func answer(method: String, uri: String) async -> HTTPAnswer {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
        guard method == "GET" || method == "HEAD" else {
            return HTTPAnswer(status: 405, contentType: "text/plain; charset=utf-8", body: Array("method \(method) not allowed; use GET\n".utf8))
        }
        switch path {
        case "/metrics":
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return HTTPAnswer(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: buffer)
        case "/health":
            let report = await health()
            return HTTPAnswer(status: report.statusCode, contentType: "application/json", body: Array(report.json.utf8))
        default:
            return HTTPAnswer(status: 404, contentType: "text/plain; charset=utf-8", body: Array("not found: \(path) (try /metrics or /health)\n".utf8))
        }
    }
}
