import KeelServer
import Logging
import Metrics
import Synchronization
import XCTest

/// The metrics listener over real loopback HTTP: Prometheus text at /metrics, etcd's /health.
final class MetricsHTTPServerTests: XCTestCase {
    func testMetricsAndHealthAnswerOverHTTP() async throws {
        let registry = MetricsBootstrap.registry
        Counter(label: "keel_test_http_requests_total").increment(by: 3)
        let healthy = Mutex(true)
        let routes = MetricsRoutes(registry: registry) {
            healthy.withLock { $0 } ? HealthReport(healthy: true) : HealthReport(healthy: false, reason: "RAFT NO LEADER")
        }
        let server = try await MetricsHTTPServer.bind(url: ServerURL(host: "127.0.0.1", port: 0), routes: routes, logger: Logger(label: "test"))
        XCTAssertNotEqual(server.boundPort, 0)
        let serving = Task { try await server.run() }
        defer { serving.cancel() }
        let port = server.boundPort

        let metrics = try await Task.detached { try LoopbackHTTP.get(port: port, path: "/metrics") }.value
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.body.contains("keel_test_http_requests_total 3"), metrics.body)

        let health = try await Task.detached { try LoopbackHTTP.get(port: port, path: "/health") }.value
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(health.body, #"{"health":"true"}"#)

        healthy.withLock { $0 = false }
        let sick = try await Task.detached { try LoopbackHTTP.get(port: port, path: "/health") }.value
        XCTAssertEqual(sick.status, 503)
        XCTAssertEqual(sick.body, #"{"health":"false","reason":"RAFT NO LEADER"}"#)

        let missing = try await Task.detached { try LoopbackHTTP.get(port: port, path: "/v3/kv/range") }.value
        XCTAssertEqual(missing.status, 404)
    }

    func testAPortInUseFailsWithTheURLAndFlag() async throws {
        let routes = MetricsRoutes(registry: MetricsBootstrap.registry) { HealthReport(healthy: true) }
        let first = try await MetricsHTTPServer.bind(url: ServerURL(host: "127.0.0.1", port: 0), routes: routes, logger: Logger(label: "test"))
        let serving = Task { try await first.run() }
        defer { serving.cancel() }
        let taken = ServerURL(host: "127.0.0.1", port: first.boundPort)
        do {
            _ = try await MetricsHTTPServer.bind(url: taken, routes: routes, logger: Logger(label: "test"))
            XCTFail("bound a port in use")
        } catch {
            XCTAssertTrue(error.message.hasPrefix("cannot listen on \(taken) (--listen-metrics-urls)"), error.message)
        }
    }

    func testHealthJSONEscapesTheReason() {
        XCTAssertEqual(HealthReport(healthy: false, reason: "a \"b\"\n").json, #"{"health":"false","reason":"a \"b\"\u000a"}"#)
    }
}
