import Foundation
import KeelNode
import KeelProto
@testable import KeelStorage
import Raft
import XCTest

@testable import KeelServer

/// etcd's protobuf messages to KeelStorage's types and back.
final class ProtoTranslationTests: XCTestCase {
    private func compare(_ target: Etcdserverpb_Compare.CompareTarget, _ union: Etcdserverpb_Compare.OneOf_TargetUnion?, _ result: Etcdserverpb_Compare.CompareResult = .equal) -> Compare {
        var proto = Etcdserverpb_Compare()
        proto.key = Data("k".utf8)
        proto.rangeEnd = Data("l".utf8)
        proto.target = target
        proto.targetUnion = union
        proto.result = result
        return ProtoToStorage.compare(proto)
    }

    func testCompareReadsTheUnionMemberOfItsTarget() {
        XCTAssertEqual(compare(.version, .version(3)).target, .version(3))
        XCTAssertEqual(compare(.create, .createRevision(4)).target, .create(4))
        XCTAssertEqual(compare(.mod, .modRevision(5)).target, .mod(5))
        XCTAssertEqual(compare(.value, .value(Data("v".utf8))).target, .value(Array("v".utf8)))
        XCTAssertEqual(compare(.lease, .lease(6)).target, .lease(6))
        XCTAssertEqual(compare(.mod, nil).target, .mod(0), "an unset operand is zero, as in etcd")
        XCTAssertEqual(compare(.value, nil).target, .value([]))
        XCTAssertEqual(compare(.version, .modRevision(9)).target, .version(0), "etcd reads the member the target names")
        let full = compare(.version, .version(1), .notEqual)
        XCTAssertEqual(full.key, Array("k".utf8))
        XCTAssertEqual(full.rangeEnd, Array("l".utf8))
        XCTAssertEqual(full.result, .notEqual)
        XCTAssertEqual(compare(.version, .version(1), .greater).result, .greater)
        XCTAssertEqual(compare(.version, .version(1), .less).result, .less)
    }

    func testRangeOptionsAreCarriedOver() {
        var proto = Etcdserverpb_RangeRequest()
        proto.key = Data("a".utf8)
        proto.rangeEnd = Data("z".utf8)
        proto.limit = 7
        proto.revision = 12
        proto.sortOrder = .descend
        proto.sortTarget = .mod
        proto.keysOnly = true
        proto.countOnly = true
        let (range, filter) = ProtoToStorage.range(proto)
        XCTAssertEqual(range, RangeRequest(key: Array("a".utf8), rangeEnd: Array("z".utf8), limit: 7, revision: 12, sortOrder: .descend, sortTarget: .mod, keysOnly: true, countOnly: true))
        XCTAssertFalse(filter.isActive)
        let targets: [(Etcdserverpb_RangeRequest.SortTarget, RangeRequest.SortTarget)] = [(.key, .key), (.version, .version), (.create, .create), (.mod, .mod), (.value, .value)]
        for (protoTarget, target) in targets {
            XCTAssertEqual(ProtoToStorage.sortTarget(protoTarget), target)
        }
        XCTAssertEqual(ProtoToStorage.sortOrder(.ascend), .ascend)
        XCTAssertEqual(ProtoToStorage.sortOrder(.none), .none)
    }

    func testRevisionFiltersDropKeysThenLimit() {
        var proto = Etcdserverpb_RangeRequest()
        proto.key = Data("a".utf8)
        proto.rangeEnd = Data([0])
        proto.limit = 1
        proto.minModRevision = 3
        let (range, filter) = ProtoToStorage.range(proto)
        XCTAssertEqual(range.limit, 0, "the store returns everything so the filter runs before the limit")
        let kvs = (1...4).map { KeyValue(key: [UInt8(96 + $0)], createRevision: Int64($0), modRevision: Int64($0), version: 1, value: [], lease: 0) }
        let filtered = filter.apply(to: RangeResponse(revision: 4, kvs: kvs, more: false, count: 4), limit: proto.limit)
        XCTAssertEqual(filtered.kvs.map(\.modRevision), [3])
        XCTAssertTrue(filtered.more)
        XCTAssertEqual(filtered.count, 4, "count is the store's count, as etcd reports it")
        var maxCreate = RevisionFilter(minModRevision: 0, maxModRevision: 0, minCreateRevision: 0, maxCreateRevision: 2)
        XCTAssertEqual(maxCreate.apply(to: RangeResponse(revision: 4, kvs: kvs, more: false, count: 4), limit: 0).kvs.count, 2)
        maxCreate.maxModRevision = 1
        XCTAssertEqual(maxCreate.apply(to: RangeResponse(revision: 4, kvs: kvs, more: false, count: 4), limit: 0).kvs.count, 1)
    }

    func testATxnIsSerializableOnlyWhenEveryOperationIsASerializableRange() {
        var serializable = Etcdserverpb_RangeRequest()
        serializable.key = Data("a".utf8)
        serializable.serializable = true
        var linearizable = serializable
        linearizable.serializable = false
        var put = Etcdserverpb_PutRequest()
        put.key = Data("a".utf8)
        var txn = Etcdserverpb_TxnRequest()
        txn.success = [op(.requestRange(serializable))]
        txn.failure = [op(.requestRange(serializable))]
        XCTAssertTrue(txn.isSerializable)
        txn.failure = [op(.requestRange(linearizable))]
        XCTAssertFalse(txn.isSerializable, "one linearizable range makes the whole linearizable")
        txn.failure = [op(.requestPut(put))]
        XCTAssertFalse(txn.isSerializable)
        txn.failure = [op(.requestTxn(Etcdserverpb_TxnRequest()))]
        XCTAssertFalse(txn.isSerializable, "a nested transaction is not a range")
        XCTAssertFalse(Etcdserverpb_TxnRequest().isSerializable, "compares alone stay linearizable")
    }

    func testNestedTxnIsTranslatedOperationByOperation() {
        var put = Etcdserverpb_PutRequest()
        put.key = Data("p".utf8)
        put.value = Data("v".utf8)
        put.lease = 0
        put.prevKv = true
        var delete = Etcdserverpb_DeleteRangeRequest()
        delete.key = Data("d".utf8)
        delete.rangeEnd = Data("e".utf8)
        delete.prevKv = true
        var get = Etcdserverpb_RangeRequest()
        get.key = Data("g".utf8)
        var inner = Etcdserverpb_TxnRequest()
        inner.success = [op(.requestPut(put))]
        inner.failure = [op(.requestRange(get))]
        var outer = Etcdserverpb_TxnRequest()
        var guardCompare = Etcdserverpb_Compare()
        guardCompare.key = Data("g".utf8)
        guardCompare.target = .create
        guardCompare.targetUnion = .createRevision(0)
        outer.compare = [guardCompare]
        outer.success = [op(.requestTxn(inner)), op(.requestDeleteRange(delete))]
        outer.failure = [op(.requestRange(get))]

        let txn = ProtoToStorage.txn(outer)
        XCTAssertEqual(txn.compare, [Compare(key: Array("g".utf8), target: .create(0), result: .equal)])
        XCTAssertEqual(txn.success, [
            .txn(TxnRequest(success: [.put(PutRequest(key: Array("p".utf8), value: Array("v".utf8), prevKv: true))], failure: [.range(RangeRequest(key: Array("g".utf8)))])),
            .deleteRange(DeleteRangeRequest(key: Array("d".utf8), rangeEnd: Array("e".utf8), prevKv: true)),
        ])
        XCTAssertEqual(txn.failure, [.range(RangeRequest(key: Array("g".utf8)))])
    }

    func testTxnResponseCarriesHeadersAndNestedResults() {
        let header = Etcdserverpb_ResponseHeader.with { $0.revision = 9; $0.clusterID = 1; $0.memberID = 2; $0.raftTerm = 3 }
        let kv = KeyValue(key: Array("p".utf8), createRevision: 2, modRevision: 8, version: 3, value: Array("old".utf8), lease: 0)
        let response = TxnResponse(revision: 9, succeeded: true, responses: [
            .txn(TxnResponse(revision: 9, succeeded: true, responses: [.put(PutResponse(revision: 9, prevKv: kv))])),
            .deleteRange(DeleteRangeResponse(revision: 9, deleted: 1, prevKvs: [kv])),
        ])
        let proto = StorageToProto.txn(response, request: Etcdserverpb_TxnRequest(), header: header)
        XCTAssertTrue(proto.succeeded)
        XCTAssertEqual(proto.header, header)
        XCTAssertEqual(proto.responses.count, 2)
        guard case .responseTxn(let nested)? = proto.responses[0].response, case .responsePut(let put)? = nested.responses.first?.response else {
            return XCTFail("nested txn response missing: \(proto)")
        }
        XCTAssertEqual(put.prevKv.value, Data("old".utf8))
        XCTAssertEqual(put.prevKv.modRevision, 8)
        XCTAssertEqual(put.prevKv.version, 3)
        XCTAssertEqual(put.header.revision, 9)
        guard case .responseDeleteRange(let deleted)? = proto.responses[1].response else { return XCTFail("delete response missing") }
        XCTAssertEqual(deleted.deleted, 1)
        XCTAssertEqual(deleted.prevKvs.first?.createRevision, 2)
    }

    func testTxnRangeFiltersApplyToTheBranchThatRan() {
        var get = Etcdserverpb_RangeRequest()
        get.key = Data("a".utf8)
        get.rangeEnd = Data("z".utf8)
        get.maxCreateRevision = 1
        var request = Etcdserverpb_TxnRequest()
        request.failure = [op(.requestRange(get))]
        let kvs = (1...3).map { KeyValue(key: [UInt8(97 + $0)], createRevision: Int64($0), modRevision: Int64($0), version: 1, value: [], lease: 0) }
        let response = TxnResponse(revision: 3, succeeded: false, responses: [.range(RangeResponse(revision: 3, kvs: kvs, more: false, count: 3))])
        let proto = StorageToProto.txn(response, request: request, header: Etcdserverpb_ResponseHeader())
        guard case .responseRange(let range)? = proto.responses.first?.response else { return XCTFail("range response missing") }
        XCTAssertEqual(range.kvs.map(\.createRevision), [1])
    }

    func testMembersMapField() {
        let member = StorageToProto.member(MemberInfo(id: NodeID(7), name: "a", peerURLs: ["http://127.0.0.1:2380"], clientURLs: ["http://127.0.0.1:2379"], isLearner: true))
        XCTAssertEqual(member.id, 7)
        XCTAssertEqual(member.name, "a")
        XCTAssertEqual(member.peerUrls, ["http://127.0.0.1:2380"])
        XCTAssertEqual(member.clientUrls, ["http://127.0.0.1:2379"])
        XCTAssertTrue(member.isLearner)
    }

    private func op(_ request: Etcdserverpb_RequestOp.OneOf_Request) -> Etcdserverpb_RequestOp {
        var op = Etcdserverpb_RequestOp()
        op.request = request
        return op
    }
}
