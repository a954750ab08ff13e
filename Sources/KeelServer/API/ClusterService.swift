import GRPCCore
import KeelNode
import KeelProto
import Raft

/// etcd's `etcdserverpb.Cluster` service: the member list and membership changes (one member at a
/// time, through the log; refused with etcd's errors when unsafe or invalid).
struct ClusterService: RegistrableRPCService {
    static let serviceName = "etcdserverpb.Cluster"

    let node: KeelNode
    let route: UnaryRoute

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        let node = node
        route.register(&router, service: Self.serviceName, method: "MemberList") { (_: Etcdserverpb_MemberListRequest, _) in
            let (members, header) = await node.members()
            var response = Etcdserverpb_MemberListResponse()
            response.header = Self.header(header)
            response.members = members.map(StorageToProto.member)
            return response
        }
        route.register(&router, service: Self.serviceName, method: "MemberAdd") { (request: Etcdserverpb_MemberAddRequest, deadline) in
            let (added, members) = try await node.addMember(peerURLs: request.peerUrls, isLearner: request.isLearner, deadline: deadline)
            var response = Etcdserverpb_MemberAddResponse()
            response.header = Self.header(await node.members().header)
            response.member = StorageToProto.member(added)
            response.members = members.map(StorageToProto.member)
            return response
        }
        route.register(&router, service: Self.serviceName, method: "MemberRemove") { (request: Etcdserverpb_MemberRemoveRequest, deadline) in
            let members = try await node.removeMember(NodeID(request.id), deadline: deadline)
            var response = Etcdserverpb_MemberRemoveResponse()
            response.header = Self.header(await node.members().header)
            response.members = members.map(StorageToProto.member)
            return response
        }
        route.register(&router, service: Self.serviceName, method: "MemberUpdate") { (request: Etcdserverpb_MemberUpdateRequest, deadline) in
            let members = try await node.updateMember(NodeID(request.id), peerURLs: request.peerUrls, deadline: deadline)
            var response = Etcdserverpb_MemberUpdateResponse()
            response.header = Self.header(await node.members().header)
            response.members = members.map(StorageToProto.member)
            return response
        }
        route.register(&router, service: Self.serviceName, method: "MemberPromote") { (request: Etcdserverpb_MemberPromoteRequest, deadline) in
            let members = try await node.promoteMember(NodeID(request.id), deadline: deadline)
            var response = Etcdserverpb_MemberPromoteResponse()
            response.header = Self.header(await node.members().header)
            response.members = members.map(StorageToProto.member)
            return response
        }
    }

    /// etcd's cluster service answers from the membership store, not the key-value store, and
    /// leaves the header's revision unset; etcdctl prints what it receives.
    static func header(_ header: ResponseHeader) -> Etcdserverpb_ResponseHeader {
        var proto = StorageToProto.header(header)
        proto.revision = 0
        return proto
    }
}
