import Foundation
import GRPCCore
import GRPCProtobuf
import KeelChecksum
import KeelNode
import KeelProto
import KeelStorage

/// etcd's `etcdserverpb.Maintenance` service: Status, Hash, HashKV, Alarm, Defragment, MoveLeader
/// and Snapshot (Keel's own checksummed image format, not etcd's bbolt file).
struct MaintenanceService: RegistrableRPCService {
    static let serviceName = "etcdserverpb.Maintenance"

    let node: KeelNode
    let route: UnaryRoute

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        let node = node
        route.register(&router, service: Self.serviceName, method: "Status") { (_: Etcdserverpb_StatusRequest, _) in
            StorageToProto.status(await node.status())
        }
        route.register(&router, service: Self.serviceName, method: "HashKV") { (request: Etcdserverpb_HashKVRequest, deadline) in
            let (hash, header) = try await node.hashKV(revision: request.revision, deadline: deadline)
            var response = Etcdserverpb_HashKVResponse()
            response.header = StorageToProto.header(header)
            response.hash = hash.hash
            // etcd answers -1 for a store that was never compacted.
            response.compactRevision = hash.compactRevision == 0 ? -1 : hash.compactRevision
            return response
        }
        route.register(&router, service: Self.serviceName, method: "Hash") { (_: Etcdserverpb_HashRequest, deadline) in
            let (hash, header) = try await node.hash(deadline: deadline)
            var response = Etcdserverpb_HashResponse()
            response.header = StorageToProto.header(header)
            response.hash = hash
            return response
        }
        route.register(&router, service: Self.serviceName, method: "Defragment") { (_: Etcdserverpb_DefragmentRequest, deadline) in
            var response = Etcdserverpb_DefragmentResponse()
            response.header = StorageToProto.header(try await node.defragment(deadline: deadline))
            return response
        }
        route.register(&router, service: Self.serviceName, method: "MoveLeader") { (request: Etcdserverpb_MoveLeaderRequest, deadline) in
            _ = try await node.moveLeader(to: request.targetID, deadline: deadline)
            // etcd 3.4 answers MoveLeader and Alarm without a header (etcdctl -w json prints {}).
            return Etcdserverpb_MoveLeaderResponse()
        }
        route.register(&router, service: Self.serviceName, method: "Alarm") { (request: Etcdserverpb_AlarmRequest, deadline) in
            let (alarms, _) = try await node.alarm(try ProtoToStorage.alarm(request), deadline: deadline)
            var response = Etcdserverpb_AlarmResponse()
            response.alarms = alarms.map(StorageToProto.alarm)
            return response
        }
        registerSnapshot(with: &router)
    }

    /// Streams a backup chunk by chunk; the route's default timeout does not apply (a large store
    /// takes as long as it takes), the client's cancellation ends it.
    private func registerSnapshot<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        let node = node
        router.registerHandler(
            forMethod: MethodDescriptor(fullyQualifiedService: Self.serviceName, method: "Snapshot"),
            deserializer: ProtobufDeserializer<Etcdserverpb_SnapshotRequest>(),
            serializer: ProtobufSerializer<Etcdserverpb_SnapshotResponse>()
        ) { _, _ in
            StreamingServerResponse { writer in
                let backup: BackupStream
                do {
                    backup = try await node.openBackup(deadline: .now.advanced(by: UnaryRoute.waitUnbounded))
                } catch {
                    throw ErrorMapping.rpcError(error)
                }
                do {
                    let header = StorageToProto.header(await node.currentHeader())
                    var digest = SHA256()
                    var sentBytes = 0
                    func send(_ blob: [UInt8]) async throws {
                        var response = Etcdserverpb_SnapshotResponse()
                        response.header = header
                        response.blob = Data(blob)
                        try await writer.write(response)
                    }
                    while let chunk = try await backup.next() {
                        digest.update(chunk)
                        sentBytes += chunk.count
                        try await send(chunk)
                    }
                    // etcd's file ends with a SHA-256 of what precedes it, at a size of 32 more than
                    // a multiple of 512 (etcdctl's save checks that size): zeros, then the digest.
                    let padding = [UInt8](repeating: 0, count: (SnapshotFile.alignmentBytes - sentBytes % SnapshotFile.alignmentBytes) % SnapshotFile.alignmentBytes)
                    digest.update(padding)
                    try await send(padding + digest.finalize())
                } catch {
                    await backup.close()
                    throw ErrorMapping.rpcError(error)
                }
                await backup.close()
                return [:]
            }
        }
    }
}

extension ProtoToStorage {
    /// etcd's AlarmRequest; an action or alarm type etcd does not define is refused.
    static func alarm(_ request: Etcdserverpb_AlarmRequest) throws -> AlarmRequest {
        guard let action = AlarmRequest.Action(rawValue: UInt8(clamping: request.action.rawValue)),
            request.action.rawValue <= Int(UInt8.max),
            let kind = AlarmKind(rawValue: UInt8(clamping: request.alarm.rawValue)), request.alarm.rawValue <= Int(UInt8.max)
        else {
            throw RPCError(code: .invalidArgument, message: "etcdserver: unknown alarm action \(request.action.rawValue) or type \(request.alarm.rawValue)")
        }
        return AlarmRequest(action: action, memberID: request.memberID, kind: kind)
    }
}

extension StorageToProto {
    /// One alarm as etcd's AlarmMember.
    static func alarm(_ alarm: AlarmMember) -> Etcdserverpb_AlarmMember {
        var proto = Etcdserverpb_AlarmMember()
        proto.memberID = alarm.memberID
        proto.alarm = Etcdserverpb_AlarmType(rawValue: Int(alarm.kind.rawValue)) ?? .none
        return proto
    }

    /// An alarm as etcd prints it in Status errors (the Go text form of AlarmMember).
    static func alarmText(_ alarm: AlarmMember) -> String {
        let kind: String
        switch alarm.kind {
        case .none: kind = "NONE"
        case .noSpace: kind = "NOSPACE"
        case .corrupt: kind = "CORRUPT"
        }
        return "memberID:\(alarm.memberID) alarm:\(kind) "
    }
}
