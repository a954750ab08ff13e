import Raft
import XCTest

@testable import KeelStorage

/// Drives the MVCC store with random puts, deletes, transactions, compactions and reopens, and
/// checks reads at random past revisions against a model that keeps every revision's full state
/// with etcd's rules (version counts writes since creation, a delete resets it, a write
/// transaction that changes nothing does not consume a revision).
final class MVCCModelTests: XCTestCase {
    private let operationsCount = 300
    private let keys: [[UInt8]] = ["a", "a\u{0}", "ab", "b", "c", "cc"].map { Array($0.utf8) }

    private struct Model {
        /// states[r] is the store at revision r. A fresh store is at revision 1, as etcd's is, so
        /// states[0] and states[1] are both empty.
        var states: [[[UInt8]: KeyValue]] = [[:], [:]]
        var compacted: Int64 = 0
        var revision: Int64 { Int64(states.count - 1) }
        var current: [[UInt8]: KeyValue] { states[states.count - 1] }

        /// Applies one write transaction's changes (puts as key → value; deletes as keys).
        mutating func commit(puts: [[UInt8]: [UInt8]], deletes: Set<[UInt8]>) {
            var next = current
            let live = deletes.filter { next[$0] != nil }
            guard !puts.isEmpty || !live.isEmpty else { return }
            let revision = self.revision + 1
            for key in live { next[key] = nil }
            for (key, value) in puts {
                let previous = next[key]
                next[key] = KeyValue(
                    key: key, createRevision: previous?.createRevision ?? revision, modRevision: revision,
                    version: (previous?.version ?? 0) + 1, value: value, lease: 0)
            }
            states.append(next)
        }

        func range(_ start: [UInt8], _ end: [UInt8]?, at revision: Int64) -> [KeyValue] {
            states[Int(revision)].values
                .filter { kv in !kv.key.lexicographicallyPrecedes(start) && (end.map { kv.key.lexicographicallyPrecedes($0) } ?? true) }
                .sorted { $0.key.lexicographicallyPrecedes($1.key) }
        }
    }

    func testRandomOperationsMatchARevisionedModel() throws {
        let directory = makeTemporaryDirectory(self)
        var store: KeelStore? = try KeelStore.open(directory: directory)
        var model = Model()
        var random = SeededGenerator(seed: 0x3CC0_0002)
        func key() -> [UInt8] { keys.randomElement(using: &random)! }
        func value() -> [UInt8] { Array("v\(UInt8.random(in: 0...255, using: &random))".utf8) }
        func span() -> (key: [UInt8], rangeEnd: [UInt8], start: [UInt8], end: [UInt8]?) {
            let start = key()
            switch Int.random(in: 0..<4, using: &random) {
            case 0: return (start, [], start, start + [0])
            case 1: return (start, [0], start, nil)
            case 2: return (start, KeyRange.prefixEnd(start), start, KeyRange.prefixEnd(start))
            default:
                let end = key()
                return (start, end, start, end)
            }
        }

        for step in 0..<operationsCount {
            let choice = Int.random(in: 0..<100, using: &random)
            if choice < 30 {
                let (k, v) = (key(), value())
                let response = try store!.put(PutRequest(key: k, value: v, prevKv: true))
                XCTAssertEqual(response.prevKv, model.current[k], "step \(step): prevKv of put")
                model.commit(puts: [k: v], deletes: [])
                XCTAssertEqual(response.revision, model.revision, "step \(step): put revision")
            } else if choice < 42 {
                let s = span()
                let expected = model.range(s.start, s.end, at: model.revision)
                let response = try store!.delete(DeleteRangeRequest(key: s.key, rangeEnd: s.rangeEnd, prevKv: true))
                XCTAssertEqual(response.prevKvs, expected, "step \(step): prevKvs of delete")
                XCTAssertEqual(response.deleted, Int64(expected.count))
                model.commit(puts: [:], deletes: Set(expected.map(\.key)))
                XCTAssertEqual(response.revision, model.revision, "step \(step): delete revision")
            } else if choice < 60 {
                // Compare one key's version against what the model holds (sometimes off by one),
                // then put one key or delete another.
                let guarded = key()
                let actualVersion = model.current[guarded]?.version ?? 0
                let operand = actualVersion + Int64.random(in: -1...1, using: &random)
                let result = [CompareResult.equal, .notEqual, .less, .greater].randomElement(using: &random)!
                let holds: Bool
                switch result {
                case .equal: holds = actualVersion == operand
                case .notEqual: holds = actualVersion != operand
                case .less: holds = actualVersion < operand
                case .greater: holds = actualVersion > operand
                }
                let (putKey, putValue, deleteKey) = (key(), value(), key())
                let deleteOp = DeleteRangeRequest(key: deleteKey)
                let response = try store!.txn(TxnRequest(
                    compare: [Compare(key: guarded, target: .version(operand), result: result)],
                    success: [.put(PutRequest(key: putKey, value: putValue)), .range(RangeRequest(key: putKey))],
                    failure: putKey == deleteKey ? [] : [.deleteRange(deleteOp), .range(RangeRequest(key: deleteKey))]))
                XCTAssertEqual(response.succeeded, holds, "step \(step): compare \(result) version \(operand) of \(guarded)")
                if holds {
                    model.commit(puts: [putKey: putValue], deletes: [])
                    guard case .range(let seen) = response.responses.last else { return XCTFail("step \(step): no range response") }
                    XCTAssertEqual(seen.kvs, model.current[putKey].map { [$0] } ?? [], "step \(step): txn read its own put")
                } else if putKey != deleteKey {
                    model.commit(puts: [:], deletes: [deleteKey])
                    guard case .range(let seen) = response.responses.last else { return XCTFail("step \(step): no range response") }
                    XCTAssertEqual(seen.kvs, [], "step \(step): txn read its own delete")
                }
                XCTAssertEqual(response.revision, model.revision, "step \(step): txn revision")
            } else if choice < 65, model.revision > model.compacted {
                let target = Int64.random(in: (model.compacted + 1)...model.revision, using: &random)
                try store!.compact(target)
                model.compacted = target
            } else if choice < 70 {
                store = nil
                store = try KeelStore.open(directory: directory)
            } else {
                let s = span()
                let revision = Int64.random(in: 0...model.revision, using: &random)
                if revision != 0, revision < model.compacted {
                    assertStorageError(.compacted) { try store!.range(RangeRequest(key: s.key, rangeEnd: s.rangeEnd, revision: revision)) }
                    continue
                }
                let readAt = revision == 0 ? model.revision : revision
                var expected = model.range(s.start, s.end, at: readAt)
                let limit = Int64.random(in: 0...3, using: &random)
                let descending = Bool.random(using: &random)
                let response = try store!.range(RangeRequest(
                    key: s.key, rangeEnd: s.rangeEnd, limit: limit, revision: revision,
                    sortOrder: descending ? .descend : .none, sortTarget: .key))
                XCTAssertEqual(response.count, Int64(expected.count), "step \(step): count at \(readAt)")
                if descending { expected.reverse() }
                let more = limit > 0 && expected.count > Int(limit)
                if more { expected = Array(expected.prefix(Int(limit))) }
                XCTAssertEqual(response.kvs, expected, "step \(step): range \(s) at \(readAt) limit \(limit)")
                XCTAssertEqual(response.more, more, "step \(step)")
                XCTAssertEqual(response.revision, model.revision, "step \(step)")
            }
            XCTAssertEqual(store!.revision, model.revision, "step \(step): store revision")
        }
    }
}
