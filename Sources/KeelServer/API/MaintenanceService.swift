import GRPCCore
import KeelNode
import KeelProto

/// etcd's `etcdserverpb.Maintenance` service: only Status so far; the other methods are not
/// registered, so gRPC answers them Unimplemented.
struct MaintenanceService: RegistrableRPCService {
    static let serviceName = "etcdserverpb.Maintenance"

    let node: KeelNode
    let route: UnaryRoute

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        let node = node
        route.register(&router, service: Self.serviceName, method: "Status") { (_: Etcdserverpb_StatusRequest, _) in
            StorageToProto.status(await node.status())
        }
    }
}
