import Foundation
import GRPCCore
import GRPCProtobuf
import KeelNode
import KeelProto
import KeelStorage

/// etcd's `v3electionpb.Election` service: Campaign, Proclaim, Leader, Observe and Resign, built on
/// leases and watches the way ``LockService`` builds locks.
///
/// The leader of election `name` is the key `name/<lease in hex>` with the lowest create revision;
/// its value is the leader's proclamation. Campaign answers once every earlier campaigner's key is
/// gone and the caller's own key is confirmed still there (a lease lost while waiting is refused,
/// not elected). Proclaim and Resign act only while the caller's key keeps the create revision it
/// was elected with.
struct ElectionService: RegistrableRPCService {
    static let serviceName = "v3electionpb.Election"
    /// etcd's texts, sent with gRPC's Unknown as etcd sends them (its server returns the plain errors).
    static let notLeader = "election: not leader"
    static let noLeader = "election: no leader"
    static let missingLeaderKey = "\"leader\" field must be provided"

    let waits: KeyWaits
    let route: UnaryRoute

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        let waits = waits
        route.register(&router, service: Self.serviceName, method: "Campaign", waitsForOthers: true) {
            (request: V3electionpb_CampaignRequest, deadline) in
            try await Self.campaign(request, waits: waits, deadline: deadline)
        }
        route.register(&router, service: Self.serviceName, method: "Proclaim") { (request: V3electionpb_ProclaimRequest, deadline) in
            guard request.hasLeader else { throw RPCError(code: .invalidArgument, message: Self.missingLeaderKey) }
            let leader = request.leader
            let key = Array(leader.key)
            let (response, header) = try await waits.txn(
                TxnRequest(
                    compare: [Compare(key: key, target: .create(leader.rev), result: .equal)],
                    success: [.put(PutRequest(key: key, value: Array(request.value), lease: leader.lease))]),
                deadline: deadline)
            guard response.succeeded else { throw RPCError(code: .unknown, message: Self.notLeader) }
            return V3electionpb_ProclaimResponse.with { $0.header = StorageToProto.header(header) }
        }
        route.register(&router, service: Self.serviceName, method: "Leader") { (request: V3electionpb_LeaderRequest, deadline) in
            let (leader, header) = try await waits.first(under: KeyWaits.prefix(request.name), deadline: deadline)
            guard let leader else { throw RPCError(code: .unknown, message: Self.noLeader) }
            return V3electionpb_LeaderResponse.with {
                $0.header = StorageToProto.header(header)
                $0.kv = StorageToProto.keyValue(leader)
            }
        }
        route.register(&router, service: Self.serviceName, method: "Resign") { (request: V3electionpb_ResignRequest, deadline) in
            guard request.hasLeader else { throw RPCError(code: .invalidArgument, message: Self.missingLeaderKey) }
            let key = Array(request.leader.key)
            let (_, header) = try await waits.txn(
                TxnRequest(
                    compare: [Compare(key: key, target: .create(request.leader.rev), result: .equal)],
                    success: [.deleteRange(DeleteRangeRequest(key: key))]),
                deadline: deadline)
            return V3electionpb_ResignResponse.with { $0.header = StorageToProto.header(header) }
        }
        router.registerHandler(
            forMethod: MethodDescriptor(fullyQualifiedService: Self.serviceName, method: "Observe"),
            deserializer: ProtobufDeserializer<V3electionpb_LeaderRequest>(),
            serializer: ProtobufSerializer<V3electionpb_LeaderResponse>()
        ) { request, _ in
            let single = try await ServerRequest(stream: request)
            return StreamingServerResponse { writer in
                do {
                    try await Self.observe(name: single.message.name, waits: waits) { try await writer.write($0) }
                } catch {
                    throw ErrorMapping.rpcError(error)
                }
                return [:]
            }
        }
    }

    static func campaign(_ request: V3electionpb_CampaignRequest, waits: KeyWaits, deadline: ContinuousClock.Instant) async throws
        -> V3electionpb_CampaignResponse
    {
        guard !request.name.isEmpty else { throw RPCError(code: .invalidArgument, message: "election: name is not provided") }
        guard request.lease != 0 else {
            throw RPCError(code: .invalidArgument, message: "election: a lease is required to campaign (lease 0 given)")
        }
        let prefix = KeyWaits.prefix(request.name)
        let key = KeyWaits.holdKey(prefix: prefix, lease: request.lease)
        let value = Array(request.value)
        let revision = try await LockService.hold(key, value: value, lease: request.lease, waits: waits, deadline: deadline)
        do {
            // Campaigning again on the same lease keeps the place in line with the new value.
            _ = try await waits.txn(
                TxnRequest(
                    compare: [Compare(key: key, target: .create(revision), result: .equal), Compare(key: key, target: .value(value), result: .notEqual)],
                    success: [.put(PutRequest(key: key, value: value, lease: request.lease))]),
                deadline: deadline)
            try await waits.waitForPredecessors(under: prefix, before: revision, deadline: deadline)
            let header = try await LockService.confirm(key, revision: revision, waits: waits, deadline: deadline)
            return V3electionpb_CampaignResponse.with {
                $0.header = StorageToProto.header(header)
                $0.leader = .with {
                    $0.name = request.name
                    $0.key = Data(key)
                    $0.rev = revision
                    $0.lease = request.lease
                }
            }
        } catch {
            _ = try? await waits.delete(key, deadline: ContinuousClock.now.advanced(by: waits.requestTimeout))
            throw error
        }
    }

    /// Sends the leader's key-value now and each time it changes: a new proclamation, or a new
    /// leader once the current one's key is gone. Runs until the caller leaves or the node stops.
    static func observe(
        name: Data, waits: KeyWaits, send: (V3electionpb_LeaderResponse) async throws -> Void
    ) async throws {
        let prefix = KeyWaits.prefix(name)
        let forever = ContinuousClock.now.advanced(by: UnaryRoute.waitUnbounded)
        var lastSent: (key: [UInt8], modRevision: Int64)?
        while true {
            let (leader, header) = try await waits.first(under: prefix, deadline: ContinuousClock.now.advanced(by: waits.requestTimeout))
            guard let leader else {
                // Nobody campaigns: wait for the first key under the name.
                _ = try await waits.nextChange(
                    WatchSpec(key: prefix, rangeEnd: KeyRange.prefixEnd(prefix), startRevision: header.revision + 1, skipDeletes: true),
                    deadline: forever)
                continue
            }
            if lastSent?.key != leader.key || lastSent?.modRevision != leader.modRevision {
                try await send(.with {
                    $0.header = StorageToProto.header(header)
                    $0.kv = StorageToProto.keyValue(leader)
                })
                lastSent = (leader.key, leader.modRevision)
            }
            // Follow this leader's proclamations until its key is deleted.
            var from = header.revision + 1
            while let event = try await waits.nextChange(WatchSpec(key: leader.key, startRevision: from), deadline: forever),
                event.kind == .put
            {
                var eventHeader = header
                eventHeader.revision = event.revision
                try await send(.with {
                    $0.header = StorageToProto.header(eventHeader)
                    $0.kv = StorageToProto.keyValue(event.kv)
                })
                lastSent = (event.kv.key, event.kv.modRevision)
                from = event.revision + 1
            }
        }
    }
}
