// `set`: unique elements added one key each, reads of the whole set during the run and from every
// member at the end; checked for lost, stale, duplicated and unexpected elements.
import Foundation
import JepsenChecker
import KeelClient
import KeelProto
import Synchronization

/// Adds unique integers (a Put of `s/<element>`) and reads them all back (a Range over the prefix).
public final class SetWorkload: Workload {
    /// `set`.
    public static let name = "set"
    /// The prefix under which every element is a key.
    static let prefix = "s/"
    /// One read in this many operations; the rest are adds.
    static let readEvery = 5

    private let nextElement = Mutex(0)

    /// A set workload.
    public init() {}

    /// An add of a fresh element, or a read.
    public func nextOperation(random: inout SplitMix64) -> PlannedOperation {
        if Int.random(in: 0..<Self.readEvery, using: &random) == 0 {
            return PlannedOperation(f: "read", value: .nil)
        }
        let element = nextElement.withLock { next in
            defer { next += 1 }
            return next
        }
        return PlannedOperation(f: "add", value: .int(element))
    }

    /// Performs an add or a read.
    public func perform(_ operation: PlannedOperation, client: KeelClient, reads: ReadConsistency) async -> OperationOutcome {
        do {
            switch operation.f {
            case "add":
                var request = Etcdserverpb_PutRequest()
                request.key = Data((Self.prefix + String(operation.value.intValue!)).utf8)
                _ = try await client.put(request)
                return OperationOutcome(type: .ok, value: operation.value)
            case "read":
                var request = Etcdserverpb_RangeRequest()
                request.key = Data(Self.prefix.utf8)
                request.rangeEnd = KeyRange.prefixEnd(request.key)
                request.keysOnly = true
                request.serializable = reads == .serializable
                let response = try await client.range(request)
                // A key under the prefix that is not one of ours becomes -1, an element never added,
                // so the checker reports it as unexpected.
                let elements = response.kvs.map { kv in
                    Int(String(decoding: kv.key.dropFirst(Self.prefix.utf8.count), as: UTF8.self)) ?? -1
                }
                return OperationOutcome(type: .ok, value: .vector(elements.sorted().map(Value.int)))
            default:
                preconditionFailure("unknown set operation \(operation.f)")
            }
        } catch {
            return ErrorClassifier.outcome(of: error, value: operation.value, isWrite: operation.f == "add")
        }
    }

    /// One read of the whole set from every member.
    public func finalOperations() -> [PlannedOperation] { [PlannedOperation(f: "read", value: .nil)] }

    /// Jepsen's set-full analysis.
    public func check(_ history: History, timeLimit: Duration?) -> WorkloadVerdict {
        do {
            let result = try SetChecker.check(history)
            // The reads that missed an element, and the adds they missed, are what a person looks at first.
            let blamed =
                result.lost.flatMap { [$0.missedByOperationID, $0.addOperationID] }
                + result.stale.flatMap { [$0.missedByOperationID, $0.addOperationID] }
                + result.duplicated.map(\.readOperationID) + result.unexpected.map(\.readOperationID)
            return WorkloadVerdict(
                verdict: result.verdict, checker: "set-full", summary: result.summary, json: result.json,
                failingOperationIDs: blamed)
        } catch {
            return WorkloadVerdict(
                verdict: .unknown, checker: "set-full", summary: "the checker refused the history: \(error)",
                json: "{\"error\": \(jsonString("\(error)"))}")
        }
    }
}
