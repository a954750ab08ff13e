import GRPCCore
import Metrics

/// Client API metrics, like etcd's `grpc_server_handled_total` and handling-time histogram:
/// `keel_grpc_requests_total{method,code}` and `keel_grpc_request_duration_seconds{method}`.
struct RequestMetrics: Sendable {
    let method: String
    let duration: Metrics.Timer

    init(method: String) {
        self.method = method
        duration = Metrics.Timer(label: "keel_grpc_request_duration_seconds", dimensions: [("method", method)])
    }

    /// Records one answered call; `code` is `OK` or the gRPC status code's name.
    func record(code: String, since start: ContinuousClock.Instant) {
        duration.recordInterval(since: start)
        Counter(label: "keel_grpc_requests_total", dimensions: [("method", method), ("code", code)]).increment()
    }
}

extension Metrics.Timer {
    /// Records the time from `start` until now.
    func recordInterval(since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let nanoseconds = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        recordNanoseconds(nanoseconds)
    }
}
