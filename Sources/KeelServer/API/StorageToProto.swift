import Foundation
import KeelNode
import KeelProto
import KeelStorage

/// KeelStorage's and KeelNode's answers as etcd's protobuf responses.
enum StorageToProto {
    static func header(_ header: ResponseHeader) -> Etcdserverpb_ResponseHeader {
        var proto = Etcdserverpb_ResponseHeader()
        proto.clusterID = header.clusterID
        proto.memberID = header.memberID
        proto.revision = header.revision
        proto.raftTerm = header.raftTerm
        return proto
    }

    static func keyValue(_ kv: KeyValue) -> Mvccpb_KeyValue {
        var proto = Mvccpb_KeyValue()
        proto.key = Data(kv.key)
        proto.createRevision = kv.createRevision
        proto.modRevision = kv.modRevision
        proto.version = kv.version
        proto.value = Data(kv.value)
        proto.lease = kv.lease
        return proto
    }

    static func range(_ response: RangeResponse, header: Etcdserverpb_ResponseHeader) -> Etcdserverpb_RangeResponse {
        var proto = Etcdserverpb_RangeResponse()
        proto.header = header
        proto.kvs = response.kvs.map(keyValue)
        proto.more = response.more
        proto.count = response.count
        return proto
    }

    static func put(_ response: PutResponse, header: Etcdserverpb_ResponseHeader) -> Etcdserverpb_PutResponse {
        var proto = Etcdserverpb_PutResponse()
        proto.header = header
        if let previous = response.prevKv {
            proto.prevKv = keyValue(previous)
        }
        return proto
    }

    static func deleteRange(_ response: DeleteRangeResponse, header: Etcdserverpb_ResponseHeader) -> Etcdserverpb_DeleteRangeResponse {
        var proto = Etcdserverpb_DeleteRangeResponse()
        proto.header = header
        proto.deleted = response.deleted
        proto.prevKvs = response.prevKvs.map(keyValue)
        return proto
    }

    /// A Txn's response. `request` is the protobuf request, whose ranges' revision filters (which
    /// storage does not know) are applied here to the matching responses of the branch that ran.
    /// The operation responses inside it carry a header with the revision only: etcd fills the
    /// cluster id, member id and raft term of the outermost header alone (recorded from etcd 3.4 in
    /// Tests/KeelServerTests/Fixtures/etcdctl).
    static func txn(_ response: TxnResponse, request: Etcdserverpb_TxnRequest, header: Etcdserverpb_ResponseHeader) -> Etcdserverpb_TxnResponse {
        var proto = Etcdserverpb_TxnResponse()
        proto.header = header
        var header = Etcdserverpb_ResponseHeader()
        header.revision = proto.header.revision
        proto.succeeded = response.succeeded
        let branch = (response.succeeded ? request.success : request.failure).filter { $0.request != nil }
        for (index, op) in response.responses.enumerated() {
            let requestOp = index < branch.count ? branch[index] : nil
            var protoOp = Etcdserverpb_ResponseOp()
            switch op {
            case .range(let range):
                var filtered = range
                if case .requestRange(let rangeRequest)? = requestOp?.request {
                    filtered = ProtoToStorage.range(rangeRequest).1.apply(to: range, limit: rangeRequest.limit)
                }
                protoOp.response = .responseRange(Self.range(filtered, header: header))
            case .put(let put):
                protoOp.response = .responsePut(Self.put(put, header: header))
            case .deleteRange(let delete):
                protoOp.response = .responseDeleteRange(deleteRange(delete, header: header))
            case .txn(let nested):
                var nestedRequest = Etcdserverpb_TxnRequest()
                if case .requestTxn(let given)? = requestOp?.request {
                    nestedRequest = given
                }
                protoOp.response = .responseTxn(txn(nested, request: nestedRequest, header: header))
            }
            proto.responses.append(protoOp)
        }
        return proto
    }

    static func member(_ member: MemberInfo) -> Etcdserverpb_Member {
        var proto = Etcdserverpb_Member()
        proto.id = member.id.rawValue
        proto.name = member.name
        proto.peerUrls = member.peerURLs
        proto.clientUrls = member.clientURLs
        proto.isLearner = member.isLearner
        return proto
    }

    static func status(_ status: NodeStatus) -> Etcdserverpb_StatusResponse {
        var proto = Etcdserverpb_StatusResponse()
        proto.header = header(status.header)
        proto.version = status.version
        proto.dbSize = status.dbSizeBytes
        proto.leader = status.leader.rawValue
        proto.raftIndex = status.raftIndex
        proto.raftTerm = status.raftTerm
        proto.raftAppliedIndex = status.raftAppliedIndex
        // etcd lists the raised alarms among a member's errors.
        proto.errors = status.errors + status.alarms.map(alarmText)
        proto.dbSizeInUse = status.dbSizeBytes
        proto.isLearner = status.isLearner
        return proto
    }
}
