import Foundation
import GRPCCore
import GRPCProtobuf
import KeelNode
import KeelProto
import Synchronization

/// etcd's `etcdserverpb.Lease` service over a KeelNode: LeaseGrant, LeaseRevoke, LeaseKeepAlive
/// (the bidirectional stream), LeaseTimeToLive, LeaseLeases.
struct LeaseService: RegistrableRPCService {
    static let serviceName = "etcdserverpb.Lease"

    let node: KeelNode
    let route: UnaryRoute
    /// Keepalive streams open at once, per client connection and in all.
    let streams: KeepAliveStreams

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        let node = node
        route.register(&router, service: Self.serviceName, method: "LeaseGrant") { (request: Etcdserverpb_LeaseGrantRequest, deadline) in
            let granted = try await node.leaseGrant(id: request.id, ttlSeconds: request.ttl, deadline: deadline)
            return Etcdserverpb_LeaseGrantResponse.with {
                $0.header = StorageToProto.header(granted.header)
                $0.id = granted.id
                $0.ttl = granted.ttlSeconds
            }
        }
        route.register(&router, service: Self.serviceName, method: "LeaseRevoke") { (request: Etcdserverpb_LeaseRevokeRequest, deadline) in
            let header = try await node.leaseRevoke(id: request.id, deadline: deadline)
            return Etcdserverpb_LeaseRevokeResponse.with { $0.header = StorageToProto.header(header) }
        }
        route.register(&router, service: Self.serviceName, method: "LeaseTimeToLive") {
            (request: Etcdserverpb_LeaseTimeToLiveRequest, deadline) in
            do {
                let (times, keys, header) = try await node.leaseTimeToLive(id: request.id, keys: request.keys, deadline: deadline)
                return Etcdserverpb_LeaseTimeToLiveResponse.with {
                    $0.header = StorageToProto.header(header)
                    $0.id = request.id
                    $0.ttl = times.remainingSeconds
                    $0.grantedTtl = times.grantedSeconds
                    $0.keys = keys.map { Data($0) }
                }
            } catch let error as KeelError where error.code == .notFound {
                // etcd answers a missing lease with TTL -1, not an error (etcdctl prints "already expired").
                let header = await node.currentHeader()
                return Etcdserverpb_LeaseTimeToLiveResponse.with {
                    $0.header = StorageToProto.header(header)
                    $0.id = request.id
                    $0.ttl = -1
                }
            }
        }
        route.register(&router, service: Self.serviceName, method: "LeaseLeases") { (_: Etcdserverpb_LeaseLeasesRequest, _) in
            let (ids, header) = try await node.leases()
            return Etcdserverpb_LeaseLeasesResponse.with {
                $0.header = StorageToProto.header(header)
                $0.leases = ids.map { id in Etcdserverpb_LeaseStatus.with { $0.id = id } }
            }
        }
        registerKeepAlive(with: &router)
    }

    /// Each request on the stream renews one lease at the leader and gets its TTL back (0 when the
    /// lease is gone, as etcd answers); any other failure ends the stream with its status.
    private func registerKeepAlive<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        let node = node
        let streams = streams
        let timeout = route.defaultTimeout
        let metrics = RequestMetrics(method: "LeaseKeepAlive")
        router.registerHandler(
            forMethod: MethodDescriptor(fullyQualifiedService: Self.serviceName, method: "LeaseKeepAlive"),
            deserializer: ProtobufDeserializer<Etcdserverpb_LeaseKeepAliveRequest>(),
            serializer: ProtobufSerializer<Etcdserverpb_LeaseKeepAliveResponse>()
        ) { request, context in
            let connection = context.remotePeer
            return StreamingServerResponse { writer in
                // Counted inside the producer, which always runs to its end, so every open is closed.
                if let refusal = streams.open(connection) { throw RPCError(code: .resourceExhausted, message: refusal) }
                defer { streams.close(connection) }
                for try await message in request.messages {
                    let start = ContinuousClock.now
                    var response = Etcdserverpb_LeaseKeepAliveResponse()
                    response.id = message.id
                    do {
                        let (times, header) = try await node.leaseRenew(id: message.id, deadline: start.advanced(by: timeout))
                        response.header = StorageToProto.header(header)
                        response.ttl = times.grantedSeconds
                    } catch let error as KeelError where error.code == .notFound {
                        // etcd fills the header and answers TTL 0: the lease is gone.
                        response.header = StorageToProto.header(await node.currentHeader())
                        response.ttl = 0
                    } catch {
                        let rpcError = ErrorMapping.rpcError(error)
                        metrics.record(code: "\(rpcError.code)", since: start)
                        throw rpcError
                    }
                    metrics.record(code: "OK", since: start)
                    try await writer.write(response)
                }
                return [:]
            }
        }
    }
}

/// Counts open streams of one kind (lease keepalives, watches) so one client (or all of them)
/// cannot open without bound: each holds a task and a connection's flow-control window.
final class KeepAliveStreams: Sendable {
    let perConnectionMax: Int
    let totalMax: Int
    /// What the streams are, for the refusal: "lease keepalive streams".
    let what: String
    private let open = Mutex<(byConnection: [String: Int], total: Int)>(([:], 0))

    init(perConnectionMax: Int = 100, totalMax: Int = 10_000, what: String = "lease keepalive streams") {
        self.perConnectionMax = perConnectionMax
        self.totalMax = totalMax
        self.what = what
    }

    /// Opens one stream for `connection`, or says why not.
    func open(_ connection: String) -> String? {
        open.withLock { state in
            let current = state.byConnection[connection, default: 0]
            if current >= perConnectionMax {
                return "etcdserver: too many \(what) on this connection (at most \(perConnectionMax))"
            }
            if state.total >= totalMax { return "etcdserver: too many \(what) (at most \(totalMax))" }
            state.byConnection[connection] = current + 1
            state.total += 1
            return nil
        }
    }

    func close(_ connection: String) {
        open.withLock { state in
            let remaining = state.byConnection[connection, default: 1] - 1
            state.byConnection[connection] = remaining > 0 ? remaining : nil
            state.total -= 1
        }
    }

    /// Streams open now.
    var count: Int { open.withLock { $0.total } }
}
