import GRPCCore
import KeelProto
import Metrics
import Synchronization

/// etcd's gRPC request counters (go-grpc-prometheus, which etcd 3.4 registers):
/// `grpc_server_started_total` and `grpc_server_handled_total`, labelled `grpc_type`,
/// `grpc_service`, `grpc_method` (and `grpc_code` once handled, with grpc-go's code names),
/// for every service served, streams included.
///
/// Counters are kept per label set so a call costs two increments, not two registry lookups.
final class GRPCServerMetrics: ServerInterceptor {
    /// etcd's streaming methods, by `service/method`; every other method is `unary`.
    static let streamingTypes: [String: String] = [
        "etcdserverpb.Watch/Watch": "bidi_stream",
        "etcdserverpb.Lease/LeaseKeepAlive": "bidi_stream",
        "etcdserverpb.Maintenance/Snapshot": "server_stream",
        "v3electionpb.Election/Observe": "server_stream",
        "grpc.health.v1.Health/Watch": "server_stream",
    ]

    private let started = Mutex<[String: Counter]>([:])
    private let handled = Mutex<[String: Counter]>([:])

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let descriptor = context.descriptor
        let labels = Self.labels(descriptor)
        counter(in: started, key: descriptor.fullyQualifiedMethod, name: "grpc_server_started_total", labels: labels).increment()
        var response: StreamingServerResponse<Output>
        do {
            response = try await next(request, context)
        } catch {
            recordHandled(labels, descriptor, code: Self.codeName(of: error))
            throw error
        }
        switch response.accepted {
        case .failure(let error):
            recordHandled(labels, descriptor, code: Self.codeName(error.code))
        case .success(var contents):
            let producer = contents.producer
            contents.producer = { writer in
                do {
                    let trailers = try await producer(writer)
                    self.recordHandled(labels, descriptor, code: "OK")
                    return trailers
                } catch {
                    self.recordHandled(labels, descriptor, code: Self.codeName(of: error))
                    throw error
                }
            }
            response.accepted = .success(contents)
        }
        return response
    }

    private func recordHandled(_ labels: [(String, String)], _ descriptor: MethodDescriptor, code: String) {
        counter(in: handled, key: descriptor.fullyQualifiedMethod + " " + code, name: "grpc_server_handled_total",
                labels: labels + [("grpc_code", code)]).increment()
    }

    private func counter(in cache: borrowing Mutex<[String: Counter]>, key: String, name: String, labels: [(String, String)]) -> Counter {
        cache.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(label: name, dimensions: labels)
            counters[key] = counter
            return counter
        }
    }

    static func labels(_ descriptor: MethodDescriptor) -> [(String, String)] {
        [
            ("grpc_type", streamingTypes[descriptor.fullyQualifiedMethod] ?? "unary"),
            ("grpc_service", descriptor.service.fullyQualifiedService), ("grpc_method", descriptor.method),
        ]
    }

    static func codeName(of error: any Error) -> String {
        (error as? RPCError).map { codeName($0.code) } ?? "Unknown"
    }

    /// grpc-go's names, which etcd's label values use.
    static func codeName(_ code: RPCError.Code) -> String { code.goName }
}
