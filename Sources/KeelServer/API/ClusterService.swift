import GRPCCore
import KeelNode
import KeelProto

/// etcd's `etcdserverpb.Cluster` service: only MemberList so far (membership changes come with
/// a later issue and answer Unimplemented).
struct ClusterService: RegistrableRPCService {
    static let serviceName = "etcdserverpb.Cluster"

    let node: KeelNode
    let route: UnaryRoute

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        let node = node
        route.register(&router, service: Self.serviceName, method: "MemberList") { (_: Etcdserverpb_MemberListRequest, _) in
            let (members, header) = await node.members()
            var response = Etcdserverpb_MemberListResponse()
            response.header = StorageToProto.header(header)
            // etcd's cluster service answers from the membership store, not the key-value store, and
            // leaves the header's revision unset; etcdctl prints what it receives.
            response.header.revision = 0
            response.members = members.map(StorageToProto.member)
            return response
        }
    }
}
