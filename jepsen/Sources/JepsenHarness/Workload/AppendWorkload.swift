// `append`: Elle's list-append transactions over etcd's Txn, checked for strict serializability.
import Foundation
import JepsenChecker
import KeelClient
import KeelProto
import Synchronization

/// Transactions of one to three micro-operations, each an append of a unique element to a key's
/// list or a read of a key's list, over a small rotating pool of keys.
///
/// A transaction reads every key it names (one read-only Txn), then, if it appends, commits with one
/// Txn that compares every key's mod revision with what it read: so it commits atomically at a single
/// revision or fails (`:fail`, nothing written). Lists are stored as space-separated integers.
public final class AppendWorkload: Workload {
    /// `append`.
    public static let name = "append"
    /// Keys in use at once; few, so transactions conflict.
    static let activeKeysCount = 6
    /// Appends to one key before it is retired, so lists stay short.
    static let appendsPerKeyMax = 40
    /// Micro-operations per transaction, at most.
    static let microOperationsMax = 3

    private let keys = Mutex(KeyPool())

    struct KeyPool {
        /// Active keys and how many elements each has been given.
        var active: [(key: Int, appended: Int)] = (0..<AppendWorkload.activeKeysCount).map { ($0, 0) }
        var nextKey = AppendWorkload.activeKeysCount
    }

    /// An append workload.
    public init() {}

    /// The storage key of list `key`.
    static func storageKey(_ key: Int) -> Data { Data("a/\(key)".utf8) }

    /// A transaction of random appends and reads.
    public func nextOperation(random: inout SplitMix64) -> PlannedOperation {
        let count = Int.random(in: 1...Self.microOperationsMax, using: &random)
        var micro: [Value] = []
        for _ in 0..<count {
            let slot = Int.random(in: 0..<Self.activeKeysCount, using: &random)
            let isAppend = Bool.random(using: &random)
            let chosen: (key: Int, element: Int?) = keys.withLock { pool in
                let key = pool.active[slot].key
                guard isAppend else { return (key, nil) }
                pool.active[slot].appended += 1
                let element = pool.active[slot].appended
                if element >= Self.appendsPerKeyMax {
                    pool.active[slot] = (pool.nextKey, 0)
                    pool.nextKey += 1
                }
                return (key, element)
            }
            if let element = chosen.element {
                micro.append(.vector([.keyword("append"), .int(chosen.key), .int(element)]))
            } else {
                micro.append(.vector([.keyword("r"), .int(chosen.key), .nil]))
            }
        }
        return PlannedOperation(f: "txn", value: .vector(micro))
    }

    /// Reads the named keys, then commits the appends if none of those keys changed meanwhile.
    public func perform(_ operation: PlannedOperation, client: KeelClient, reads: ReadConsistency) async -> OperationOutcome {
        let micro = operation.value.elements!.map { $0.elements! }
        var keysInOrder: [Int] = []
        for step in micro where !keysInOrder.contains(step[1].intValue!) { keysInOrder.append(step[1].intValue!) }
        let appends = micro.contains { $0[0].keywordName == "append" }

        // Read phase: one read-only Txn, served at a single read index (or locally if serializable).
        var readRequest = Etcdserverpb_TxnRequest()
        readRequest.success = keysInOrder.map { key in
            var range = Etcdserverpb_RangeRequest()
            range.key = Self.storageKey(key)
            range.serializable = reads == .serializable
            var op = Etcdserverpb_RequestOp()
            op.request = .requestRange(range)
            return op
        }
        var lists: [Int: [Int]] = [:]
        var modRevisions: [Int: Int64] = [:]
        do {
            let response = try await client.txn(readRequest)
            for (key, answer) in zip(keysInOrder, response.responses) {
                let kv = answer.responseRange.kvs.first
                lists[key] = kv.map { Self.decode($0.value) } ?? []
                modRevisions[key] = kv?.modRevision ?? 0
            }
        } catch {
            return ErrorClassifier.outcome(of: error, value: operation.value, isWrite: false)
        }

        // What the transaction saw and wrote, in its own order (a read after an append sees it).
        var completed: [Value] = []
        for step in micro {
            let key = step[1].intValue!
            if step[0].keywordName == "append" {
                lists[key, default: []].append(step[2].intValue!)
                completed.append(.vector(step))
            } else {
                completed.append(.vector([step[0], step[1], .vector(lists[key, default: []].map(Value.int))]))
            }
        }
        guard appends else { return OperationOutcome(type: .ok, value: .vector(completed)) }

        var commit = Etcdserverpb_TxnRequest()
        commit.compare = keysInOrder.map { key in
            var compare = Etcdserverpb_Compare()
            compare.key = Self.storageKey(key)
            compare.target = .mod
            compare.result = .equal
            compare.targetUnion = .modRevision(modRevisions[key] ?? 0)
            return compare
        }
        let written = Set(micro.filter { $0[0].keywordName == "append" }.map { $0[1].intValue! })
        commit.success = keysInOrder.filter(written.contains).map { key in
            var put = Etcdserverpb_PutRequest()
            put.key = Self.storageKey(key)
            put.value = Data(lists[key, default: []].map(String.init).joined(separator: " ").utf8)
            var op = Etcdserverpb_RequestOp()
            op.request = .requestPut(put)
            return op
        }
        do {
            let response = try await client.txn(commit)
            guard response.succeeded else {
                return OperationOutcome(type: .fail, value: operation.value, error: "a key changed since it was read")
            }
            return OperationOutcome(type: .ok, value: .vector(completed))
        } catch {
            return ErrorClassifier.outcome(of: error, value: operation.value, isWrite: true)
        }
    }

    /// The list stored in a value; a token that is not an integer becomes -1, an element no
    /// transaction appends, so the checker reports it as garbage instead of it silently vanishing.
    static func decode(_ data: Data) -> [Int] {
        String(decoding: data, as: UTF8.self).split(separator: " ").map { Int($0) ?? -1 }
    }

    /// Keys read by one final transaction: below etcd's default `--max-txn-ops` (128).
    static let finalReadKeysMax = 64

    /// Reads of every key used, from every member, in transactions of at most ``finalReadKeysMax`` keys.
    public func finalOperations() -> [PlannedOperation] {
        let used = keys.withLock { $0.nextKey }
        return stride(from: 0, to: used, by: Self.finalReadKeysMax).map { first in
            let reads = (first..<min(first + Self.finalReadKeysMax, used)).map { key -> Value in
                .vector([.keyword("r"), .int(key), .nil])
            }
            return PlannedOperation(f: "txn", value: .vector(reads))
        }
    }

    /// Strict serializability, after Elle.
    public func check(_ history: History, timeLimit: Duration?) -> WorkloadVerdict {
        do {
            let result = try ListAppendChecker.check(history, timeLimit: timeLimit)
            return WorkloadVerdict(
                verdict: result.verdict, checker: "list-append", summary: result.summary, json: result.json,
                failingOperationIDs: result.anomalies.flatMap(\.operationIDs))
        } catch {
            return WorkloadVerdict(
                verdict: .unknown, checker: "list-append", summary: "the checker refused the history: \(error)",
                json: "{\"error\": \(jsonString("\(error)"))}")
        }
    }
}
