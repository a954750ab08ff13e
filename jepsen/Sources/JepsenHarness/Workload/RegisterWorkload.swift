// `register`: single-key reads, writes and compare-and-sets on a rotating set of independent keys,
// checked for linearizability per key (Jepsen's `independent` registers).
import Foundation
import JepsenChecker
import KeelClient
import KeelProto
import Synchronization

/// Reads (Range), writes (Put) and compare-and-sets (Txn comparing the value) of small integers.
/// Each key takes a bounded number of operations, then the workers move to a fresh key, so every
/// per-key history stays small enough to check quickly.
public final class RegisterWorkload: Workload {
    /// `register`.
    public static let name = "register"
    /// Operations on one key before the workers move to the next.
    static let operationsPerKeyMax = 120
    /// Values are drawn from 0..<valuesCount, so compare-and-sets often succeed.
    static let valuesCount = 5

    private let keys = Mutex(KeyRotation())

    struct KeyRotation {
        var key = 0
        var issued = 0
    }

    /// A register workload.
    public init() {}

    /// The storage key of register `key`.
    static func storageKey(_ key: Int) -> Data { Data("r/\(key)".utf8) }

    /// A read (half the time), a write or a compare-and-set on the current key.
    public func nextOperation(random: inout SplitMix64) -> PlannedOperation {
        let key = keys.withLock { rotation in
            if rotation.issued >= Self.operationsPerKeyMax {
                rotation.key += 1
                rotation.issued = 0
            }
            rotation.issued += 1
            return rotation.key
        }
        let roll = Int.random(in: 0..<4, using: &random)
        switch roll {
        case 0, 1: return PlannedOperation(f: "read", value: .vector([.int(key), .nil]))
        case 2: return PlannedOperation(f: "write", value: .vector([.int(key), .int(Int.random(in: 0..<Self.valuesCount, using: &random))]))
        default:
            let old = Int.random(in: 0..<Self.valuesCount, using: &random)
            let new = Int.random(in: 0..<Self.valuesCount, using: &random)
            return PlannedOperation(f: "cas", value: .vector([.int(key), .vector([.int(old), .int(new)])]))
        }
    }

    /// Performs the operation; a compare-and-set whose comparison fails is `:fail`.
    public func perform(_ operation: PlannedOperation, client: KeelClient, reads: ReadConsistency) async -> OperationOutcome {
        guard let parts = operation.value.elements, parts.count == 2, let key = parts[0].intValue else {
            preconditionFailure("register operations are [key value] tuples")
        }
        let storageKey = Self.storageKey(key)
        do {
            switch operation.f {
            case "read":
                var request = Etcdserverpb_RangeRequest()
                request.key = storageKey
                request.serializable = reads == .serializable
                let response = try await client.range(request)
                // A value that is not one of ours is recorded as its text, which no model state equals.
                let value: Value = response.kvs.first.map { kv in
                    let text = String(decoding: kv.value, as: UTF8.self)
                    return Int(text).map(Value.int) ?? .string(text)
                } ?? .nil
                return OperationOutcome(type: .ok, value: .vector([.int(key), value]))
            case "write":
                var request = Etcdserverpb_PutRequest()
                request.key = storageKey
                request.value = Data(String(parts[1].intValue!).utf8)
                _ = try await client.put(request)
                return OperationOutcome(type: .ok, value: operation.value)
            case "cas":
                guard let pair = parts[1].elements, let old = pair[0].intValue, let new = pair[1].intValue else {
                    preconditionFailure("cas takes [old new]")
                }
                var compare = Etcdserverpb_Compare()
                compare.key = storageKey
                compare.target = .value
                compare.result = .equal
                compare.targetUnion = .value(Data(String(old).utf8))
                var put = Etcdserverpb_PutRequest()
                put.key = storageKey
                put.value = Data(String(new).utf8)
                var request = Etcdserverpb_TxnRequest()
                request.compare = [compare]
                var op = Etcdserverpb_RequestOp()
                op.request = .requestPut(put)
                request.success = [op]
                let response = try await client.txn(request)
                return OperationOutcome(
                    type: response.succeeded ? .ok : .fail, value: operation.value,
                    error: response.succeeded ? nil : "compare failed")
            default:
                preconditionFailure("unknown register operation \(operation.f)")
            }
        } catch {
            return ErrorClassifier.outcome(of: error, value: operation.value, isWrite: operation.f != "read")
        }
    }

    /// No final reads: every key's history is checked as it is.
    public func finalOperations() -> [PlannedOperation] { [] }

    /// Linearizability per key, with nil meaning the key is absent (`independent-register`).
    public func check(_ history: History, timeLimit: Duration?) -> WorkloadVerdict {
        let model = "independent-register"
        do {
            let result = try ModelCatalog.check(history, model: model, initial: .nil, timeLimit: timeLimit)
            let failing = result.partitions.compactMap(\.failingOperationID)
            return WorkloadVerdict(
                verdict: result.verdict, checker: model,
                summary: TextReport.summary(result, history: history, name: "history.edn"),
                json: TextReport.json(result, history: history, name: "history.edn"),
                failingOperationIDs: failing,
                html: HTMLReport.render(result, history: history, name: "history.edn"))
        } catch {
            return WorkloadVerdict(
                verdict: .unknown, checker: model, summary: "the checker refused the history: \(error)",
                json: "{\"error\": \(jsonString("\(error)"))}")
        }
    }
}
