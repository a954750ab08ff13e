import GRPCCore
import GRPCProtobuf
import KeelNode
import SwiftProtobuf

/// Registers unary etcd methods on a gRPC router, turning each call into a plain function of the
/// request message and a deadline, and every failure into etcd's gRPC status.
struct UnaryRoute {
    /// The deadline of a request whose caller sent none.
    let defaultTimeout: Duration

    /// Registers `method` of `service` (fully qualified, `etcdserverpb.KV`).
    func register<Transport: ServerTransport, Input: SwiftProtobuf.Message & Sendable, Output: SwiftProtobuf.Message & Sendable>(
        _ router: inout RPCRouter<Transport>, service: String, method: String,
        handler: @escaping @Sendable (Input, ContinuousClock.Instant) async throws -> Output
    ) {
        let defaultTimeout = self.defaultTimeout
        router.registerHandler(
            forMethod: MethodDescriptor(fullyQualifiedService: service, method: method),
            deserializer: ProtobufDeserializer<Input>(),
            serializer: ProtobufSerializer<Output>()
        ) { stream, _ in
            let request = try await ServerRequest(stream: stream)
            let deadline = Self.deadline(metadata: request.metadata, defaultTimeout: defaultTimeout)
            do {
                let output = try await handler(request.message, deadline)
                return StreamingServerResponse(single: ServerResponse(message: output))
            } catch {
                throw ErrorMapping.rpcError(error)
            }
        }
    }

    /// The caller's deadline (`grpc-timeout`) or the default; never later than the default
    /// allows plus the caller's own wish, so a node call is always bounded.
    static func deadline(metadata: Metadata, defaultTimeout: Duration) -> ContinuousClock.Instant {
        let now = ContinuousClock.now
        for value in metadata[stringValues: GRPCTimeout.headerName] {
            if let timeout = GRPCTimeout.parse(value) {
                return now.advanced(by: timeout)
            }
        }
        return now.advanced(by: defaultTimeout)
    }
}
