import GRPCCore
import KeelNode
import KeelProto

/// gRPC's standard health service (`grpc.health.v1.Health`), as etcd serves it: the server as a
/// whole (service `""`) is SERVING while the member knows a leader and NOT_SERVING otherwise, the
/// same test as `/health`.
struct HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
    /// How often Watch looks at the member again; a prober wants a change within seconds, and a
    /// look is one call on the node.
    static let watchInterval: Duration = .seconds(1)

    let node: KeelNode

    func check(request: Grpc_Health_V1_HealthCheckRequest, context: ServerContext) async throws -> Grpc_Health_V1_HealthCheckResponse {
        guard request.service.isEmpty else {
            throw RPCError(code: .notFound, message: "unknown service \(request.service)")
        }
        let current = await status()
        return .with { $0.status = current }
    }

    func watch(
        request: Grpc_Health_V1_HealthCheckRequest, response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>, context: ServerContext
    ) async throws {
        guard request.service.isEmpty else {
            // The specification keeps such a stream open for a service that may appear later; kvd's
            // services are fixed, so the answer is final and the stream ends.
            try await response.write(.with { $0.status = .serviceUnknown })
            return
        }
        var sent: Grpc_Health_V1_HealthCheckResponse.ServingStatus?
        while !Task.isCancelled {
            let current = await status()
            if current != sent {
                try await response.write(.with { $0.status = current })
                sent = current
            }
            try await Task.sleep(for: Self.watchInterval)
        }
    }

    private func status() async -> Grpc_Health_V1_HealthCheckResponse.ServingStatus {
        await node.knownLeader == .none ? .notServing : .serving
    }
}
