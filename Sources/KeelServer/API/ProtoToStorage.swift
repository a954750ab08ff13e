import Foundation
import KeelProto
import KeelStorage

/// etcd's protobuf requests as KeelStorage's request types. Checking the requests is
/// ``RequestValidation``'s job; these functions only translate.
enum ProtoToStorage {
    /// The storage range request, plus etcd's revision filters that storage does not apply.
    static func range(_ request: Etcdserverpb_RangeRequest) -> (RangeRequest, RevisionFilter) {
        let filter = RevisionFilter(
            minModRevision: request.minModRevision, maxModRevision: request.maxModRevision,
            minCreateRevision: request.minCreateRevision, maxCreateRevision: request.maxCreateRevision
        )
        let range = RangeRequest(
            key: Array(request.key), rangeEnd: Array(request.rangeEnd),
            // The filters drop keys after the store's limit would have cut them, so the limit
            // is applied after filtering instead (etcd does the same).
            limit: filter.isActive ? 0 : request.limit,
            revision: request.revision, sortOrder: sortOrder(request.sortOrder), sortTarget: sortTarget(request.sortTarget),
            keysOnly: request.keysOnly, countOnly: request.countOnly
        )
        return (range, filter)
    }

    static func sortOrder(_ order: Etcdserverpb_RangeRequest.SortOrder) -> RangeRequest.SortOrder {
        switch order {
        case .none: .none
        case .ascend: .ascend
        case .descend: .descend
        case .UNRECOGNIZED: .none  // refused earlier by RequestValidation
        }
    }

    static func sortTarget(_ target: Etcdserverpb_RangeRequest.SortTarget) -> RangeRequest.SortTarget {
        switch target {
        case .key: .key
        case .version: .version
        case .create: .create
        case .mod: .mod
        case .value: .value
        case .UNRECOGNIZED: .key  // refused earlier by RequestValidation
        }
    }

    static func put(_ request: Etcdserverpb_PutRequest) -> PutRequest {
        PutRequest(
            key: Array(request.key), value: Array(request.value), lease: request.lease, prevKv: request.prevKv,
            ignoreValue: request.ignoreValue, ignoreLease: request.ignoreLease
        )
    }

    static func deleteRange(_ request: Etcdserverpb_DeleteRangeRequest) -> DeleteRangeRequest {
        DeleteRangeRequest(key: Array(request.key), rangeEnd: Array(request.rangeEnd), prevKv: request.prevKv)
    }

    /// A Txn. Its ranges' revision filters are applied to the response by
    /// ``StorageToProto/txn(_:request:header:)``.
    static func txn(_ request: Etcdserverpb_TxnRequest) -> TxnRequest {
        TxnRequest(
            compare: request.compare.map(compare),
            success: request.success.compactMap(operation),
            failure: request.failure.compactMap(operation)
        )
    }

    /// etcd reads the operand from the union member that matches `target`; a missing member
    /// counts as zero (or the empty value), as protobuf defaults do in etcd.
    static func compare(_ compare: Etcdserverpb_Compare) -> Compare {
        let target: CompareTarget
        switch compare.target {
        case .version: target = .version(compare.version)
        case .create: target = .create(compare.createRevision)
        case .mod: target = .mod(compare.modRevision)
        case .value: target = .value(Array(compare.value))
        case .lease: target = .lease(compare.lease)
        case .UNRECOGNIZED: target = .version(compare.version)  // refused earlier by RequestValidation
        }
        let result: CompareResult
        switch compare.result {
        case .equal: result = .equal
        case .greater: result = .greater
        case .less: result = .less
        case .notEqual: result = .notEqual
        case .UNRECOGNIZED: result = .equal  // refused earlier by RequestValidation
        }
        return Compare(key: Array(compare.key), rangeEnd: Array(compare.rangeEnd), target: target, result: result)
    }

    /// One Txn operation; nil for an empty operation, which validation refuses first.
    static func operation(_ op: Etcdserverpb_RequestOp) -> RequestOp? {
        switch op.request {
        case .requestRange(let range): .range(Self.range(range).0)
        case .requestPut(let put): .put(Self.put(put))
        case .requestDeleteRange(let delete): .deleteRange(deleteRange(delete))
        case .requestTxn(let txn): .txn(Self.txn(txn))
        case nil: nil
        }
    }
}

/// etcd's `min/max_mod/create_revision` filters of a Range, applied by the server after the store
/// answered, with the limit applied after them.
struct RevisionFilter: Hashable, Sendable {
    var minModRevision: Int64
    var maxModRevision: Int64
    var minCreateRevision: Int64
    var maxCreateRevision: Int64

    /// Whether any bound is set (0 means "no bound", as in etcd).
    var isActive: Bool {
        minModRevision != 0 || maxModRevision != 0 || minCreateRevision != 0 || maxCreateRevision != 0
    }

    func keeps(_ kv: KeyValue) -> Bool {
        if minModRevision != 0 && kv.modRevision < minModRevision { return false }
        if maxModRevision != 0 && kv.modRevision > maxModRevision { return false }
        if minCreateRevision != 0 && kv.createRevision < minCreateRevision { return false }
        if maxCreateRevision != 0 && kv.createRevision > maxCreateRevision { return false }
        return true
    }

    /// The response after filtering and then applying `limit`. `count` stays the store's count
    /// of keys in the range, as etcd reports it.
    func apply(to response: RangeResponse, limit: Int64) -> RangeResponse {
        guard isActive else { return response }
        var filtered = response
        filtered.kvs = response.kvs.filter(keeps)
        if limit > 0 && filtered.kvs.count > Int(limit) {
            filtered.kvs.removeLast(filtered.kvs.count - Int(limit))
            filtered.more = true
        } else {
            filtered.more = false
        }
        return filtered
    }
}
