import Foundation
import KeelProto

/// etcd's response structs as Go's encoding/json writes them (see ``GoJSON``). The field names are
/// the JSON tags of etcd's Go code, which are the .proto field names.
extension EtcdctlPrinter {
    static func json(_ header: Etcdserverpb_ResponseHeader) -> GoJSON.Value {
        GoJSON.object([
            ("cluster_id", .uint(header.clusterID)), ("member_id", .uint(header.memberID)),
            ("revision", .int(header.revision)), ("raft_term", .uint(header.raftTerm)),
        ])
    }

    /// A message-typed field: left out when unset, as a nil pointer is.
    private static func optional(_ present: Bool, _ value: @autoclosure () -> GoJSON.Value) -> GoJSON.Value {
        present ? value() : .null
    }

    static func json(_ kv: Mvccpb_KeyValue) -> GoJSON.Value {
        GoJSON.object([
            ("key", .bytes(kv.key)), ("create_revision", .int(kv.createRevision)),
            ("mod_revision", .int(kv.modRevision)), ("version", .int(kv.version)), ("value", .bytes(kv.value)),
            ("lease", .int(kv.lease)),
        ])
    }

    static func json(_ response: Etcdserverpb_RangeResponse) -> GoJSON.Value {
        GoJSON.object([
            ("header", optional(response.hasHeader, json(response.header))),
            ("kvs", .array(response.kvs.map(json))), ("more", .bool(response.more)), ("count", .int(response.count)),
        ])
    }

    static func json(_ response: Etcdserverpb_PutResponse) -> GoJSON.Value {
        GoJSON.object([
            ("header", optional(response.hasHeader, json(response.header))),
            ("prev_kv", optional(response.hasPrevKv, json(response.prevKv))),
        ])
    }

    static func json(_ response: Etcdserverpb_DeleteRangeResponse) -> GoJSON.Value {
        GoJSON.object([
            ("header", optional(response.hasHeader, json(response.header))), ("deleted", .int(response.deleted)),
            ("prev_kvs", .array(response.prevKvs.map(json))),
        ])
    }

    static func json(_ response: Etcdserverpb_TxnResponse) -> GoJSON.Value {
        GoJSON.object([
            ("header", optional(response.hasHeader, json(response.header))), ("succeeded", .bool(response.succeeded)),
            ("responses", .array(response.responses.map(json))),
        ])
    }

    /// A oneof is a Go interface field without a JSON tag, holding a wrapper struct without tags:
    /// hence the Go field names "Response" and "ResponseRange".
    static func json(_ op: Etcdserverpb_ResponseOp) -> GoJSON.Value {
        let inner: GoJSON.Value =
            switch op.response {
            case .responseRange(let range): .object([("ResponseRange", json(range))])
            case .responsePut(let put): .object([("ResponsePut", json(put))])
            case .responseDeleteRange(let delete): .object([("ResponseDeleteRange", json(delete))])
            case .responseTxn(let txn): .object([("ResponseTxn", json(txn))])
            case .none: .null
            }
        return .object([("Response", inner)])
    }

    static func json(_ member: Etcdserverpb_Member) -> GoJSON.Value {
        GoJSON.object([
            ("ID", .uint(member.id)), ("name", .string(member.name)),
            ("peerURLs", .array(member.peerUrls.map { .string($0) })),
            ("clientURLs", .array(member.clientUrls.map { .string($0) })), ("isLearner", .bool(member.isLearner)),
        ])
    }

    static func json(_ response: Etcdserverpb_MemberListResponse) -> GoJSON.Value {
        GoJSON.object([
            ("header", optional(response.hasHeader, json(response.header))),
            ("members", .array(response.members.map(json))),
        ])
    }

    static func json(_ status: Etcdserverpb_StatusResponse) -> GoJSON.Value {
        GoJSON.object([
            ("header", optional(status.hasHeader, json(status.header))), ("version", .string(status.version)),
            ("dbSize", .int(status.dbSize)), ("leader", .uint(status.leader)), ("raftIndex", .uint(status.raftIndex)),
            ("raftTerm", .uint(status.raftTerm)), ("raftAppliedIndex", .uint(status.raftAppliedIndex)),
            ("errors", .array(status.errors.map { .string($0) })), ("dbSizeInUse", .int(status.dbSizeInUse)),
            ("isLearner", .bool(status.isLearner)),
        ])
    }
}
