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

/// What etcd's `/version` reports for kvd: the server's own version (the one Status reports) and
/// the etcd API level the cluster speaks, in etcd's JSON shape
/// (`{"etcdserver":"3.4.0-keel","etcdcluster":"3.4.0"}`), so tools that parse it keep working and
/// a reader still sees that this is not etcd.
public enum VersionReport {
    /// The etcd cluster version whose API kvd serves.
    public static let clusterVersion = "3.4.0"

    /// The JSON body for a server `version`.
    public static func json(serverVersion: String) -> String {
        #"{"etcdserver":"\#(HealthReport.escaped(serverVersion))","etcdcluster":"\#(clusterVersion)"}"#
    }
}

/// The HTTP/1 routes etcd serves on its client URLs and metrics URLs: `/metrics`, `/health` and
/// `/version`, GET (and HEAD) only.
public struct MetricsRoutes: Sendable {
    /// Where the Prometheus text comes from.
    public let registry: PrometheusCollectorRegistry
    /// Asks the node whether it is healthy.
    public let health: @Sendable () async -> HealthReport

    /// What `/version` names as the server's version.
    public let serverVersion: String
    /// Brings gauges that are read rather than pushed (the database size) up to date before a
    /// scrape.
    public let refresh: @Sendable () async -> Void

    /// Creates the routes.
    public init(
        registry: PrometheusCollectorRegistry, serverVersion: String = KvdMain.version,
        refresh: @escaping @Sendable () async -> Void = {}, health: @escaping @Sendable () async -> HealthReport
    ) {
        self.registry = registry
        self.serverVersion = serverVersion
        self.refresh = refresh
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
            await refresh()
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return HTTPAnswer(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: buffer)
        case "/health":
            let report = await health()
            return HTTPAnswer(status: report.statusCode, contentType: "application/json", body: Array(report.json.utf8))
        case "/version":
            return HTTPAnswer(status: 200, contentType: "application/json", body: Array(VersionReport.json(serverVersion: serverVersion).utf8))
        default:
            return HTTPAnswer(
                status: 404, contentType: "text/plain; charset=utf-8", body: Array("not found: \(path) (try /metrics, /health or /version)\n".utf8))
        }
    }
}
