import Raft

/// Txn: guards evaluated up front, then the chosen branch, nested transactions included.
extension KVWriteTransaction {
    /// etcd rejects a Txn that writes one key twice (two puts, or a put inside a deleted range,
    /// nested transactions included), so the outcome never depends on the order of its ops.
    static func checkDuplicates(_ request: TxnRequest) throws {
        for branch in [request.success, request.failure] { _ = try writes(of: branch) }
    }

    /// The keys a branch may put and the ranges it may delete (a nested transaction: either branch).
    private static func writes(of ops: [RequestOp]) throws -> (puts: Set<[UInt8]>, deletes: [(start: [UInt8], end: [UInt8]?)]) {
        let duplicate = StorageError.invalid("etcdserver: duplicate key given in txn request")
        var puts = Set<[UInt8]>()
        var deletes: [(start: [UInt8], end: [UInt8]?)] = []
        for op in ops {
            switch op {
            case .put(let put):
                guard puts.insert(put.key).inserted else { throw duplicate }
            case .deleteRange(let delete):
                deletes.append(KeyRange.bounds(key: delete.key, rangeEnd: delete.rangeEnd))
            case .txn(let inner):
                let success = try writes(of: inner.success)
                let failure = try writes(of: inner.failure)
                let innerPuts = success.puts.union(failure.puts)
                guard puts.isDisjoint(with: innerPuts) else { throw duplicate }
                puts.formUnion(innerPuts)
                deletes += success.deletes + failure.deletes
            case .range:
                break
            }
        }
        for key in puts where deletes.contains(where: { KeyRange.contains(start: $0.start, end: $0.end, key) }) {
            throw duplicate
        }
        return (puts, deletes)
    }

    /// Every compare of the transaction and of the nested ones on the chosen path is evaluated
    /// before any op runs, as etcd does, so nested compares see the state before the transaction.
    func evaluatePath(_ request: TxnRequest) throws -> [Bool] {
        let succeeded = try request.compare.allSatisfy(evaluate)
        var path = [succeeded]
        for op in succeeded ? request.success : request.failure {
            if case .txn(let inner) = op { path += try evaluatePath(inner) }
        }
        return path
    }

    private func evaluate(_ compare: Compare) throws -> Bool {
        let kvs = try scan(key: compare.key, rangeEnd: compare.rangeEnd, revision: readRevision)
        if kvs.isEmpty {
            if case .value = compare.target { return false }
            return Self.holds(compare, KeyValue(key: compare.key, createRevision: 0, modRevision: 0, version: 0, value: [], lease: 0))
        }
        return kvs.allSatisfy { Self.holds(compare, $0) }
    }

    static func holds(_ compare: Compare, _ kv: KeyValue) -> Bool {
        let ordering: Int
        func order<T: Comparable>(_ lhs: T, _ rhs: T) -> Int { lhs < rhs ? -1 : (lhs == rhs ? 0 : 1) }
        switch compare.target {
        case .version(let operand): ordering = order(kv.version, operand)
        case .create(let operand): ordering = order(kv.createRevision, operand)
        case .mod(let operand): ordering = order(kv.modRevision, operand)
        case .lease(let operand): ordering = order(kv.lease, operand)
        case .value(let operand):
            ordering = kv.value == operand ? 0 : (kv.value.lexicographicallyPrecedes(operand) ? -1 : 1)
        }
        switch compare.result {
        case .equal: return ordering == 0
        case .notEqual: return ordering != 0
        case .less: return ordering < 0
        case .greater: return ordering > 0
        }
    }

    func run(_ request: TxnRequest, path: [Bool], cursor: inout Int) throws -> TxnResponse {
        let succeeded = path[cursor]
        cursor += 1
        var responses: [ResponseOp] = []
        for op in succeeded ? request.success : request.failure {
            switch op {
            case .range(let inner): responses.append(.range(try range(inner)))
            case .put(let inner): responses.append(.put(try put(inner)))
            case .deleteRange(let inner): responses.append(.deleteRange(try deleteRange(inner)))
            case .txn(let inner): responses.append(.txn(try run(inner, path: path, cursor: &cursor)))
            }
        }
        return TxnResponse(revision: finalRevision, succeeded: succeeded, responses: responses)
    }
}
