import GRPCCore
import KeelNode
import KeelProto

/// etcd's `etcdserverpb.KV` service over a KeelNode: Range, Put, DeleteRange, Txn, Compact.
struct KVService: RegistrableRPCService {
    static let serviceName = "etcdserverpb.KV"

    let node: KeelNode
    let validation: RequestValidation
    let route: UnaryRoute

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        let node = node
        let validation = validation
        route.register(&router, service: Self.serviceName, method: "Range") { (request: Etcdserverpb_RangeRequest, deadline) in
            try validation.range(request)
            let (range, filter) = ProtoToStorage.range(request)
            let (response, header) = try await node.range(range, serializable: request.serializable, deadline: deadline)
            return StorageToProto.range(filter.apply(to: response, limit: request.limit), header: StorageToProto.header(header))
        }
        route.register(&router, service: Self.serviceName, method: "Put") { (request: Etcdserverpb_PutRequest, deadline) in
            try validation.put(request)
            let (response, header) = try await node.put(ProtoToStorage.put(request), deadline: deadline)
            return StorageToProto.put(response, header: StorageToProto.header(header))
        }
        route.register(&router, service: Self.serviceName, method: "DeleteRange") { (request: Etcdserverpb_DeleteRangeRequest, deadline) in
            try validation.deleteRange(request)
            let (response, header) = try await node.deleteRange(ProtoToStorage.deleteRange(request), deadline: deadline)
            return StorageToProto.deleteRange(response, header: StorageToProto.header(header))
        }
        route.register(&router, service: Self.serviceName, method: "Txn") { (request: Etcdserverpb_TxnRequest, deadline) in
            try validation.txn(request)
            let (response, header) = try await node.txn(ProtoToStorage.txn(request), serializable: request.isSerializable, deadline: deadline)
            return StorageToProto.txn(response, request: request, header: StorageToProto.header(header))
        }
        route.register(&router, service: Self.serviceName, method: "Compact") { (request: Etcdserverpb_CompactionRequest, deadline) in
            let header = try await node.compact(revision: request.revision, physical: request.physical, deadline: deadline)
            var response = Etcdserverpb_CompactionResponse()
            response.header = StorageToProto.header(header)
            return response
        }
    }
}

extension Etcdserverpb_TxnRequest {
    /// etcd's `isTxnSerializable`: every operation of both branches is a Range that asks for a
    /// serializable read, so the transaction may be answered from this member's state at once.
    /// Unlike etcd, a transaction with no operations (compares alone) is not: it stays linearizable.
    var isSerializable: Bool {
        let operations = success + failure
        return !operations.isEmpty && operations.allSatisfy { operation in
            if case .requestRange(let range)? = operation.request { return range.serializable }
            return false
        }
    }
}
