import GRPCCore
import GRPCProtobuf
import KeelNode
import SwiftProtobuf

/// Registers unary etcd methods on a gRPC router, turning each call into a plain function of the
/// request message and a deadline, and every failure into etcd's gRPC status.
struct UnaryRoute {
    /// The deadline of a request whose caller sent none.
    let defaultTimeout: Duration
    /// How much earlier than the caller's deadline the node must give up, so that its answer
    /// (etcd's "request timed out" or "no leader", Unavailable) reaches the caller before the
    /// caller stops waiting and sees only "context deadline exceeded". The node notices passed
    /// deadlines on its ticks, so this covers a couple of ticks plus the way back.
    let answerMargin: Duration

    /// Creates a route; `answerMargin` defaults to none (tests of the deadline arithmetic).
    init(defaultTimeout: Duration, answerMargin: Duration = .zero) {
        self.defaultTimeout = defaultTimeout
        self.answerMargin = answerMargin
    }

    /// Registers `method` of `service` (fully qualified, `etcdserverpb.KV`).
    /// With `waitsForOthers` (Lock, Campaign: they wait for another client to let go), a call
    /// without a deadline waits as long as the caller stays, as etcd's do.
    func register<Transport: ServerTransport, Input: SwiftProtobuf.Message & Sendable, Output: SwiftProtobuf.Message & Sendable>(
        _ router: inout RPCRouter<Transport>, service: String, method: String, waitsForOthers: Bool = false,
        handler: @escaping @Sendable (Input, ContinuousClock.Instant) async throws -> Output
    ) {
        let defaultTimeout = waitsForOthers ? Self.waitUnbounded : self.defaultTimeout
        let answerMargin = self.answerMargin
        let metrics = RequestMetrics(method: method)
        router.registerHandler(
            forMethod: MethodDescriptor(fullyQualifiedService: service, method: method),
            deserializer: ProtobufDeserializer<Input>(),
            serializer: ProtobufSerializer<Output>()
        ) { stream, _ in
            let request = try await ServerRequest(stream: stream)
            let deadline = Self.deadline(metadata: request.metadata, defaultTimeout: defaultTimeout, answerMargin: answerMargin)
            let start = ContinuousClock.now
            do {
                let output = try await handler(request.message, deadline)
                metrics.record(code: "OK", since: start)
                return StreamingServerResponse(single: ServerResponse(message: output))
            } catch {
                let rpcError = ErrorMapping.rpcError(error)
                metrics.record(code: "\(rpcError.code)", since: start)
                throw rpcError
            }
        }
    }

    /// A deadline that never comes in practice: the caller's cancellation ends the wait.
    static let waitUnbounded: Duration = .seconds(100 * 365 * 86_400)

    /// The caller's deadline (`grpc-timeout`) less the answer margin (at most a quarter of the
    /// timeout), or the default when the caller set none; so a node call is always bounded.
    static func deadline(metadata: Metadata, defaultTimeout: Duration, answerMargin: Duration = .zero) -> ContinuousClock.Instant {
        let now = ContinuousClock.now
        for value in metadata[stringValues: GRPCTimeout.headerName] {
            if let timeout = GRPCTimeout.parse(value) {
                return now.advanced(by: timeout - min(answerMargin, timeout / 4))
            }
        }
        return now.advanced(by: defaultTimeout)
    }
}
