import Foundation
import GRPCCore
import KeelProto
import KeelStorage

/// etcd's checks of client requests before they reach Raft (etcd's `v3rpc/key.go`), with its
/// error texts, so a malformed request fails at once and changes nothing. The node repeats the
/// checks it can make on storage types and checks the encoded size (`--max-request-bytes`); the
/// ones here need the protobuf form (unknown enum values, empty operations).
struct RequestValidation: Sendable {
    /// etcd's `--max-txn-ops` default: the most compares, and operations per branch, of a Txn.
    static let txnOperationsMax = 128

    func range(_ request: Etcdserverpb_RangeRequest) throws(RPCError) {
        guard !request.key.isEmpty else { throw invalid(EtcdMessage.emptyKey) }
        if case .UNRECOGNIZED = request.sortOrder { throw invalid(EtcdMessage.invalidSortOption) }
        if case .UNRECOGNIZED = request.sortTarget { throw invalid(EtcdMessage.invalidSortOption) }
    }

    func put(_ request: Etcdserverpb_PutRequest) throws(RPCError) {
        guard !request.key.isEmpty else { throw invalid(EtcdMessage.emptyKey) }
        if request.ignoreValue && !request.value.isEmpty { throw invalid(EtcdMessage.valueProvided) }
        if request.ignoreLease && request.lease != 0 { throw invalid(EtcdMessage.leaseProvided) }
    }

    func deleteRange(_ request: Etcdserverpb_DeleteRangeRequest) throws(RPCError) {
        guard !request.key.isEmpty else { throw invalid(EtcdMessage.emptyKey) }
    }

    /// A Txn: sizes, every operation (nested Txns too), and no key written twice in one branch.
    func txn(_ request: Etcdserverpb_TxnRequest) throws(RPCError) {
        let max = Self.txnOperationsMax
        guard request.compare.count <= max, request.success.count <= max, request.failure.count <= max else {
            throw invalid(EtcdMessage.tooManyOps)
        }
        for compare in request.compare {
            if case .UNRECOGNIZED = compare.target { throw invalid(EtcdMessage.invalidCompare) }
            if case .UNRECOGNIZED = compare.result { throw invalid(EtcdMessage.invalidCompare) }
            guard !compare.key.isEmpty else { throw invalid(EtcdMessage.emptyKey) }
        }
        for op in request.success + request.failure {
            switch op.request {
            case .requestRange(let range): try self.range(range)
            case .requestPut(let put): try self.put(put)
            case .requestDeleteRange(let delete): try deleteRange(delete)
            case .requestTxn(let nested): try txn(nested)
            case nil: throw invalid(EtcdMessage.emptyRequestOp)
            }
        }
        _ = try writes(of: request.success)
        _ = try writes(of: request.failure)
    }

    /// The keys a branch puts and the ranges it deletes; a key put twice, or put and deleted, in
    /// one branch is refused as etcd refuses it (the result would depend on operation order).
    /// A nested Txn contributes both its branches, since either may run.
    func writes(of branch: [Etcdserverpb_RequestOp]) throws(RPCError) -> (puts: Set<Data>, deletes: [(Data, Data)]) {
        var puts = Set<Data>()
        var deletes: [(Data, Data)] = []
        func addPut(_ key: Data) throws(RPCError) {
            guard puts.insert(key).inserted else { throw invalid(EtcdMessage.duplicateKey) }
        }
        for op in branch {
            switch op.request {
            case .requestPut(let put): try addPut(put.key)
            case .requestDeleteRange(let delete): deletes.append((delete.key, delete.rangeEnd))
            case .requestTxn(let nested):
                let success = try writes(of: nested.success)
                let failure = try writes(of: nested.failure)
                for key in success.puts.union(failure.puts) { try addPut(key) }
                deletes += success.deletes + failure.deletes
            case .requestRange, nil: continue
            }
        }
        for key in puts {
            for (start, end) in deletes where Self.range(start: start, end: end, contains: key) {
                throw invalid(EtcdMessage.duplicateKey)
            }
        }
        return (puts, deletes)
    }

    /// Whether etcd's range `[start, end)` (empty end: the key alone; `[0]`: everything from
    /// start) holds `key`.
    static func range(start: Data, end: Data, contains key: Data) -> Bool {
        if end.isEmpty { return key == start }
        let keyBytes = Array(key)
        guard !keyBytes.lexicographicallyPrecedes(Array(start)) else { return false }
        if end == Data([0]) { return true }
        return keyBytes.lexicographicallyPrecedes(Array(end))
    }

    private func invalid(_ message: String) -> RPCError {
        RPCError(code: .invalidArgument, message: message)
    }
}
