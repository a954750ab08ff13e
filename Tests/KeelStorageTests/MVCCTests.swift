import Raft
import XCTest

@testable import KeelStorage

final class MVCCTests: XCTestCase {
    private func openStore() throws -> KeelStore {
        var options = StorageOptions()
        options.writeBufferBytes = 1 << 20
        return try KeelStore.open(directory: makeTemporaryDirectory(self, name), options: options)
    }

    private func keys(_ response: RangeResponse) -> [String] { response.kvs.map { text($0.key) } }

    func testPutTracksRevisionsVersionsAndPreviousValues() throws {
        let store = try openStore()
        // A fresh store is at revision 1, as etcd's is, so the first write gets 2.
        XCTAssertEqual(store.revision, 1)
        XCTAssertEqual(try store.range(RangeRequest(key: bytes("a"))).revision, 1)
        XCTAssertEqual(try store.put("a", "1"), 2)
        XCTAssertEqual(try store.put("b", "1"), 3)
        let second = try store.put(PutRequest(key: bytes("a"), value: bytes("2"), prevKv: true))
        XCTAssertEqual(second.revision, 4)
        XCTAssertEqual(second.prevKv.map { text($0.value) }, "1")
        let a = try XCTUnwrap(store.get("a"))
        XCTAssertEqual([a.createRevision, a.modRevision, a.version], [2, 4, 2])
        XCTAssertEqual(text(a.value), "2")
        // Deleting resets the version; re-creating gets a new create revision.
        XCTAssertEqual(try store.delete(DeleteRangeRequest(key: bytes("a"))).deleted, 1)
        XCTAssertNil(try store.get("a"))
        try store.put("a", "3")
        let recreated = try XCTUnwrap(store.get("a"))
        XCTAssertEqual([recreated.createRevision, recreated.modRevision, recreated.version], [6, 6, 1])
        // A delete that matches nothing does not consume a revision.
        XCTAssertEqual(try store.delete(DeleteRangeRequest(key: bytes("nothing"))).revision, 6)
        XCTAssertEqual(store.revision, 6)
    }

    func testRangeFormsLimitCountAndKeysOnly() throws {
        let store = try openStore()
        for key in ["a", "ab", "abc", "b", "c\u{0}", "c"] { try store.put(key, "v-" + key) }
        XCTAssertEqual(keys(try store.range(RangeRequest(key: bytes("ab")))), ["ab"])
        XCTAssertEqual(keys(try store.range(RangeRequest(key: bytes("a"), rangeEnd: bytes("b")))), ["a", "ab", "abc"])
        XCTAssertEqual(keys(try store.range(.prefix(bytes("ab")))), ["ab", "abc"])
        XCTAssertEqual(keys(try store.range(RangeRequest(key: bytes("b"), rangeEnd: [0]))), ["b", "c", "c\u{0}"])
        XCTAssertEqual(keys(try store.range(RangeRequest(key: [0], rangeEnd: [0]))).count, 6)
        let limited = try store.range(RangeRequest(key: bytes("a"), rangeEnd: [0], limit: 2))
        XCTAssertEqual(keys(limited), ["a", "ab"])
        XCTAssertTrue(limited.more)
        XCTAssertEqual(limited.count, 6)
        let counted = try store.range(RangeRequest(key: bytes("a"), rangeEnd: bytes("b"), countOnly: true))
        XCTAssertEqual(counted.count, 3)
        XCTAssertTrue(counted.kvs.isEmpty)
        let keysOnly = try store.range(RangeRequest(key: bytes("a"), rangeEnd: bytes("b"), keysOnly: true))
        XCTAssertEqual(keys(keysOnly), ["a", "ab", "abc"])
        XCTAssertTrue(keysOnly.kvs.allSatisfy { $0.value.isEmpty && $0.version == 1 })
    }

    func testBinaryKeysWithZeroAndFFBytesKeepByteOrder() throws {
        let store = try openStore()
        let keys: [[UInt8]] = [[0x61], [0x61, 0x00], [0x61, 0x00, 0x00], [0x61, 0x00, 0x01], [0x61, 0x01], [0x61, 0xFF], [0x61, 0xFF, 0x00], [0x62], [0xFF, 0xFF]]
        for key in keys.shuffled() { try store.put(PutRequest(key: key, value: key)) }
        let all = try store.range(RangeRequest(key: [0], rangeEnd: [0]))
        XCTAssertEqual(all.kvs.map(\.key), keys)
        XCTAssertTrue(all.kvs.allSatisfy { $0.key == $0.value })
        XCTAssertEqual(try store.range(RangeRequest(key: [0x61, 0x00])).kvs.map(\.key), [[0x61, 0x00]])
        XCTAssertEqual(try store.range(.prefix([0x61, 0x00])).kvs.map(\.key), [[0x61, 0x00], [0x61, 0x00, 0x00], [0x61, 0x00, 0x01]])
        XCTAssertEqual(try store.range(.prefix([0x61, 0xFF])).kvs.map(\.key), [[0x61, 0xFF], [0x61, 0xFF, 0x00]])
        XCTAssertEqual(try store.range(.prefix([0xFF])).kvs.map(\.key), [[0xFF, 0xFF]])
        XCTAssertEqual(KeyRange.prefixEnd([0x61, 0xFF]), [0x62])
        XCTAssertEqual(KeyRange.prefixEnd([0xFF, 0xFF]), [0])
    }

    func testRangeSortsByEveryTargetInBothOrders() throws {
        let store = try openStore()
        try store.put("b", "2")
        try store.put("a", "3")
        try store.put("c", "1")
        try store.put("b", "4")  // b: version 2, mod 4, create 1
        func sorted(_ target: RangeRequest.SortTarget, _ order: RangeRequest.SortOrder, limit: Int64 = 0) throws -> [String] {
            keys(try store.range(RangeRequest(key: bytes("a"), rangeEnd: [0], limit: limit, sortOrder: order, sortTarget: target)))
        }
        XCTAssertEqual(try sorted(.key, .descend), ["c", "b", "a"])
        XCTAssertEqual(try sorted(.value, .ascend), ["c", "a", "b"])
        XCTAssertEqual(try sorted(.create, .ascend), ["b", "a", "c"])
        XCTAssertEqual(try sorted(.create, .descend), ["c", "a", "b"])
        XCTAssertEqual(try sorted(.mod, .descend), ["b", "c", "a"])
        XCTAssertEqual(try sorted(.version, .descend), ["b", "a", "c"])
        XCTAssertEqual(try sorted(.version, .ascend), ["a", "c", "b"])
        XCTAssertEqual(try sorted(.mod, .descend, limit: 1), ["b"])
    }

    func testReadsAtOlderRevisionsAndCompaction() throws {
        let store = try openStore()
        try store.put("k", "1")  // 2
        try store.put("k", "2")  // 3
        try store.put("gone", "x")  // 4
        try store.delete(DeleteRangeRequest(key: bytes("gone")))  // 5
        try store.put("k", "3")  // 6
        XCTAssertEqual(try store.range(RangeRequest(key: bytes("k"), revision: 1)).kvs, [], "revision 1 is the empty store")
        XCTAssertEqual(try store.range(RangeRequest(key: bytes("k"), revision: 2)).kvs.map { text($0.value) }, ["1"])
        XCTAssertEqual(try store.range(RangeRequest(key: bytes("k"), revision: 5)).kvs.map { text($0.value) }, ["2"])
        XCTAssertEqual(keys(try store.range(RangeRequest(key: bytes("g"), rangeEnd: [0], revision: 4))), ["gone", "k"])
        XCTAssertEqual(keys(try store.range(RangeRequest(key: bytes("g"), rangeEnd: [0], revision: 5))), ["k"])
        var error = assertStorageError(.unavailable) { try store.range(RangeRequest(key: bytes("k"), revision: 7)) }
        XCTAssertEqual(error?.message, "mvcc: required revision is a future revision")

        try store.compact(5)
        error = assertStorageError(.compacted) { try store.range(RangeRequest(key: bytes("k"), revision: 4)) }
        XCTAssertEqual(error?.message, "mvcc: required revision has been compacted")
        XCTAssertEqual(try store.range(RangeRequest(key: bytes("k"), revision: 5)).kvs.map { text($0.value) }, ["2"])
        XCTAssertEqual(try store.range(RangeRequest(key: bytes("k"))).kvs.map { text($0.value) }, ["3"])
        assertStorageError(.compacted) { try store.compact(5) }
        assertStorageError(.unavailable) { try store.compact(9) }
        XCTAssertEqual(store.revision, 6, "compaction does not consume a revision")
    }

    func testCompactionRemovesSupersededVersionsFromDisk() throws {
        let storage = try NodeStorage(directory: makeTemporaryDirectory(self))
        var index: UInt64 = 0
        func apply(_ command: KVCommand) throws {
            index += 1
            _ = try XCTUnwrap(storage.stateMachine.apply(index: LogIndex(index), entryData: command.encoded())).get()
        }
        for value in 1...5 { try apply(.put(PutRequest(key: bytes("k"), value: bytes("\(value)")))) }
        try apply(.put(PutRequest(key: bytes("d"), value: bytes("x"))))
        try apply(.deleteRange(DeleteRangeRequest(key: bytes("d"))))
        func versionsOnDisk() throws -> Int {
            var count = 0
            try storage.stateMachine.database.iterator(KVStateMachine.keyFamily).forEach(from: [], to: nil) { _, _ in
                count += 1
                return true
            }
            return count
        }
        XCTAssertEqual(try versionsOnDisk(), 7)
        try apply(.compact(revision: 8))
        XCTAssertEqual(try versionsOnDisk(), 1, "only k's newest version survives; d's tombstone goes too")
    }

    func testTransactionsCompareAndBranch() throws {
        let store = try openStore()
        try store.put("x", "1")
        let swap = TxnRequest(
            compare: [Compare(key: bytes("x"), target: .value(bytes("1")), result: .equal)],
            success: [.put(PutRequest(key: bytes("x"), value: bytes("2"))), .range(RangeRequest(key: bytes("x")))],
            failure: [.range(RangeRequest(key: bytes("x")))])
        let first = try store.txn(swap)
        XCTAssertTrue(first.succeeded)
        XCTAssertEqual(first.revision, 3)
        guard case .range(let seen) = first.responses[1] else { return XCTFail("expected a range response") }
        XCTAssertEqual(seen.kvs.map { text($0.value) }, ["2"], "a txn's read sees its own earlier write")
        let second = try store.txn(swap)
        XCTAssertFalse(second.succeeded)
        XCTAssertEqual(second.revision, 3, "a read-only branch does not consume a revision")

        func holds(_ target: CompareTarget, _ result: CompareResult, key: String = "x", rangeEnd: [UInt8] = []) throws -> Bool {
            try store.txn(TxnRequest(compare: [Compare(key: bytes(key), rangeEnd: rangeEnd, target: target, result: result)])).succeeded
        }
        XCTAssertTrue(try holds(.version(2), .equal))
        XCTAssertTrue(try holds(.version(1), .greater))
        XCTAssertTrue(try holds(.create(3), .less))
        XCTAssertTrue(try holds(.mod(2), .notEqual))
        XCTAssertFalse(try holds(.mod(3), .notEqual))
        XCTAssertTrue(try holds(.value(bytes("10")), .greater))
        XCTAssertTrue(try holds(.lease(0), .equal))
        XCTAssertTrue(try holds(.version(0), .equal, key: "missing"), "an absent key has version 0")
        XCTAssertFalse(try holds(.value([]), .equal, key: "missing"), "value compares on an absent key fail")
        try store.put("y", "1")
        XCTAssertTrue(try holds(.mod(0), .greater, key: "x", rangeEnd: bytes("z")))
        XCTAssertFalse(try holds(.version(2), .equal, key: "x", rangeEnd: bytes("z")), "every key of the range must match")
    }

    func testReadOnlyCommandsAreServedOutsideTheLogAndWritesAreNot() throws {
        let storage = try NodeStorage(directory: makeTemporaryDirectory(self))
        let machine = storage.stateMachine
        _ = try XCTUnwrap(machine.apply(index: LogIndex(1), entryData: KVCommand.put(PutRequest(key: bytes("k"), value: bytes("v"))).encoded())).get()
        let readOnly = TxnRequest(
            compare: [Compare(key: bytes("k"), target: .version(1), result: .equal)],
            success: [.range(RangeRequest(key: bytes("k"))), .txn(TxnRequest(failure: [.range(RangeRequest(key: bytes("x")))]))])
        guard case .txn(let response) = try machine.read(.txn(readOnly)) else { return XCTFail("expected a txn response") }
        XCTAssertTrue(response.succeeded)
        XCTAssertEqual(response.revision, 2)
        guard case .range(let seen) = response.responses.first else { return XCTFail("expected a range response") }
        XCTAssertEqual(seen.kvs.map { text($0.value) }, ["v"])
        guard case .range(let range) = try machine.read(.range(RangeRequest(key: bytes("k")))) else { return XCTFail("expected a range response") }
        XCTAssertEqual(range.kvs.count, 1)
        XCTAssertEqual(machine.appliedIndex, LogIndex(1), "reads record nothing")

        var writing = readOnly
        writing.failure = [.deleteRange(DeleteRangeRequest(key: bytes("k")))]
        assertStorageError(.invalidArgument) { try machine.read(.txn(writing)) }
        // A write nested in an inner transaction makes the whole one a write.
        let nestedWrite = TxnRequest(success: [.txn(TxnRequest(failure: [.txn(TxnRequest(success: [.put(PutRequest(key: bytes("k"), value: bytes("n")))]))]))])
        XCTAssertFalse(nestedWrite.isReadOnly)
        assertStorageError(.invalidArgument) { try machine.read(.txn(nestedWrite)) }
        assertStorageError(.invalidArgument) { try machine.read(.put(PutRequest(key: bytes("k"), value: bytes("w")))) }
        XCTAssertEqual(try machine.range(RangeRequest(key: bytes("k"))).kvs.map { text($0.value) }, ["v"])
        XCTAssertEqual(machine.revision, 2)
    }

    func testNestedTransactionsAndSubRevisions() throws {
        let store = try openStore()
        try store.put("flag", "on")
        try store.put("old", "stale")
        let inner = TxnRequest(
            compare: [Compare(key: bytes("flag"), target: .value(bytes("on")), result: .equal)],
            success: [.put(PutRequest(key: bytes("inner"), value: bytes("yes")))],
            failure: [.put(PutRequest(key: bytes("inner"), value: bytes("no")))])
        let outer = TxnRequest(
            compare: [Compare(key: bytes("flag"), target: .version(1), result: .equal)],
            success: [
                .put(PutRequest(key: bytes("flag"), value: bytes("off"))), .txn(inner),
                .deleteRange(DeleteRangeRequest(key: bytes("old"), prevKv: true)),
            ])
        let response = try store.txn(outer)
        XCTAssertTrue(response.succeeded)
        guard case .txn(let nested) = response.responses[1], case .deleteRange(let deleted) = response.responses[2] else {
            return XCTFail("unexpected responses \(response.responses)")
        }
        XCTAssertTrue(nested.succeeded, "nested compares see the state before the outer transaction's writes")
        XCTAssertEqual(deleted.prevKvs.map { text($0.value) }, ["stale"])
        XCTAssertEqual(store.revision, 4, "one transaction is one revision")
        XCTAssertEqual(try store.get("inner").map { text($0.value) }, "yes")
        XCTAssertEqual(try store.get("flag")?.modRevision, 4)
        XCTAssertEqual(try store.get("inner")?.modRevision, 4)
        XCTAssertNil(try store.get("old"))
        let revision = store.revision
        let put = { (key: String) in RequestOp.put(PutRequest(key: bytes(key), value: [])) }
        for duplicated in [
            TxnRequest(success: [put("d"), put("d")]),
            TxnRequest(failure: [.deleteRange(DeleteRangeRequest(key: bytes("a"), rangeEnd: bytes("c"))), put("b")]),
            TxnRequest(success: [put("e"), .txn(TxnRequest(failure: [put("e")]))]),
        ] {
            let error = assertStorageError(.invalidArgument) { try store.txn(duplicated) }
            XCTAssertEqual(error?.message, "etcdserver: duplicate key given in txn request")
            // The same check without a store, as a Raft host runs it before proposing.
            let checked = assertStorageError(.invalidArgument) { try KVStateMachine.checkDuplicateKeys(in: duplicated) }
            XCTAssertEqual(checked?.message, "etcdserver: duplicate key given in txn request")
        }
        XCTAssertNoThrow(try KVStateMachine.checkDuplicateKeys(in: TxnRequest(success: [put("d")], failure: [put("d")])))
        XCTAssertEqual(store.revision, revision)
        XCTAssertTrue(try store.txn(TxnRequest(success: [put("d"), .txn(TxnRequest(success: [put("e")], failure: [put("e")]))])).succeeded)
    }

    func testLeaseRecordsKeepKeyCountsCheckpointsAndTheKeyLimit() throws {
        var options = StorageOptions()
        options.keysPerLeaseMax = 3
        let store = try KeelStore.open(directory: makeTemporaryDirectory(self, name), options: options)
        try store.grantLease(id: 9, ttlSeconds: 30)
        try store.grantLease(id: 3, ttlSeconds: 5)
        assertStorageError(.leaseExists) { try store.grantLease(id: 9, ttlSeconds: 30) }
        assertStorageError(.invalidArgument) { try store.grantLease(id: 4, ttlSeconds: LeaseLimits.ttlSecondsMax + 1) }
        XCTAssertEqual(try store.leases().map(\.id), [3, 9], "in id order")
        try store.put("a", "1", lease: 9)
        try store.put("b", "1", lease: 9)
        try store.put("a", "2", lease: 9)  // already attached: counts once
        XCTAssertEqual(try store.lease(9)?.keyCount, 2)
        // A transaction that attaches two more keys goes past the limit: it fails whole.
        let revision = store.revision
        assertStorageError(.limitExceeded) {
            try store.txn(TxnRequest(success: [
                .put(PutRequest(key: bytes("c"), value: bytes("1"), lease: 9)), .put(PutRequest(key: bytes("d"), value: bytes("1"), lease: 9)),
            ]))
        }
        XCTAssertEqual(store.revision, revision, "a refused transaction writes nothing")
        XCTAssertNil(try store.get("c"))
        try store.put("b", "moved", lease: 3)  // moving a key frees its place
        _ = try store.delete(DeleteRangeRequest(key: bytes("a")))
        XCTAssertEqual(try store.lease(9)?.keyCount, 0)
        XCTAssertEqual(try store.lease(3)?.keyCount, 1)
        XCTAssertEqual(try store.leaseKeys(3).map(text), ["b"])
        XCTAssertEqual(try store.leaseKeys(9), [])

        // Checkpoints: recorded for leases that exist, ignored for those that do not; nil resets.
        let applied = try store.execute(.leaseCheckpoint([
            LeaseCheckpoint(id: 9, remainingMilliseconds: 1200), LeaseCheckpoint(id: 77, remainingMilliseconds: 5),
        ]))
        XCTAssertEqual(applied, .leaseCheckpoint([LeaseCheckpoint(id: 9, remainingMilliseconds: 1200)]))
        XCTAssertEqual(try store.lease(9)?.checkpointedMilliseconds, 1200)
        XCTAssertEqual(try store.lease(9)?.remainingMilliseconds, 1200)
        XCTAssertEqual(try store.lease(3)?.remainingMilliseconds, 5000, "never checkpointed: the whole TTL")
        try store.execute(.leaseCheckpoint([LeaseCheckpoint(id: 9, remainingMilliseconds: nil)]))
        XCTAssertNil(try store.lease(9)?.checkpointedMilliseconds)
        XCTAssertEqual(try store.execute(.leaseRevoke(id: 3)), .leaseRevoke(id: 3, revision: store.revision))
        XCTAssertNil(try store.get("b"))
        XCTAssertNil(try store.lease(3))
        XCTAssertEqual(try store.leases().map(\.id), [9])
    }

    func testPutOptionsLeasesAndLimits() throws {
        let store = try openStore()
        assertStorageError(.leaseNotFound) { try store.put("k", "v", lease: 7) }
        try store.grantLease(id: 7, ttlSeconds: 10)
        try store.put("k", "v", lease: 7)
        try store.put("other", "v", lease: 7)
        _ = try store.put(PutRequest(key: bytes("k"), value: bytes("w"), ignoreLease: true))
        XCTAssertEqual(try store.get("k")?.lease, 7)
        _ = try store.put(PutRequest(key: bytes("k"), value: [], lease: 0, ignoreValue: true))
        XCTAssertEqual(try store.get("k").map { text($0.value) }, "w")
        XCTAssertEqual(try store.get("k")?.lease, 0, "without ignoreLease the lease is replaced")
        assertStorageError(.invalidArgument) { try store.put(PutRequest(key: bytes("absent"), value: [], ignoreValue: true)) }
        try store.revokeLease(id: 7)
        XCTAssertNil(try store.get("other"), "revoking a lease deletes its keys")
        XCTAssertNotNil(try store.get("k"), "a key detached from the lease survives")

        let revision = store.revision
        let error = assertStorageError(.valueTooLarge) {
            try store.put("big", String(repeating: "x", count: 1_572_865))
        }
        print("oversized put: \(error.map(String.init(describing:)) ?? "")")
        XCTAssertTrue(error?.message.contains("1572865 bytes exceeds the limit of 1572864") == true)
        assertStorageError(.emptyKey) { try store.put("", "v") }
        XCTAssertNil(try store.get("big"))
        XCTAssertEqual(store.revision, revision)
        try store.put("max", String(repeating: "x", count: 1_572_864))
        XCTAssertEqual(try store.get("max")?.value.count, 1_572_864)
    }

    func testEveryRequestNamingAnEmptyKeyIsRefusedAndChangesNothing() throws {
        let store = try KeelStore.open(directory: makeTemporaryDirectory(self))
        try store.put("a", "1")
        let revision = store.revision
        let applied = try store.range(RangeRequest(key: bytes("a"))).revision
        let empty: [UInt8] = []
        let refused: [(String, () throws -> Void)] = [
            ("put", { try store.put(PutRequest(key: empty, value: bytes("v"))) }),
            ("range", { _ = try store.range(RangeRequest(key: empty)) }),
            ("range from the start", { _ = try store.range(RangeRequest(key: empty, rangeEnd: [0])) }),
            ("delete", { try store.delete(DeleteRangeRequest(key: empty, rangeEnd: [0])) }),
            ("txn compare", { _ = try store.txn(TxnRequest(compare: [Compare(key: empty, target: .version(0), result: .equal)])) }),
            ("txn range", { _ = try store.txn(TxnRequest(success: [.range(RangeRequest(key: empty))])) }),
            ("txn delete", { _ = try store.txn(TxnRequest(failure: [.deleteRange(DeleteRangeRequest(key: empty))])) }),
            ("nested txn put", { _ = try store.txn(TxnRequest(success: [.txn(TxnRequest(success: [.put(PutRequest(key: empty, value: []))]))])) }),
        ]
        for (name, request) in refused {
            let error = assertStorageError(.emptyKey) { try request() }
            XCTAssertEqual(error?.message, "etcdserver: key is not provided", name)
        }
        XCTAssertEqual(store.revision, revision)
        XCTAssertEqual(try store.range(RangeRequest(key: bytes("a"))).revision, applied)
        XCTAssertEqual(try store.get("a").map { text($0.value) }, "1")
    }

    func testTheValueLimitIsConfigurable() throws {
        var options = StorageOptions()
        options.valueBytesMax = 10
        let store = try KeelStore.open(directory: makeTemporaryDirectory(self), options: options)
        try store.put("k", "0123456789")
        let error = assertStorageError(.valueTooLarge) { try store.put("k", "0123456789a") }
        XCTAssertTrue(error?.message.contains("value of 11 bytes exceeds the limit of 10 bytes") == true)
        // Inside a transaction too, and nothing of the transaction is stored.
        assertStorageError(.valueTooLarge) {
            try store.txn(TxnRequest(success: [.put(PutRequest(key: bytes("a"), value: bytes("x"))), .put(PutRequest(key: bytes("b"), value: bytes("0123456789ab")))]))
        }
        XCTAssertNil(try store.get("a"))
        XCTAssertEqual(try store.get("k").map { text($0.value) }, "0123456789")
        XCTAssertEqual(store.revision, 2)
    }

    func testACommandFromANewerBuildStopsApplyInsteadOfBeingRecordedAsFailed() throws {
        // Replicas on the newer build apply it; recording it here as a failed command would make
        // this replica's state silently diverge. Nothing is recorded, so it applies after an upgrade.
        let storage = try NodeStorage(directory: makeTemporaryDirectory(self))
        let machine = storage.stateMachine
        let unknownTag = Record.seal([200])
        let error = assertStorageError(.unsupportedVersion) { try machine.apply(index: LogIndex(1), entryData: unknownTag) }
        XCTAssertTrue(error?.message.contains("unknown command tag 200") == true, error?.message ?? "")
        XCTAssertEqual(machine.appliedIndex, LogIndex.zero)
        XCTAssertNotNil(try machine.apply(index: LogIndex(1), entryData: KVCommand.put(PutRequest(key: bytes("k"), value: bytes("v"))).encoded()))
        XCTAssertEqual(machine.revision, 2)
    }

    func testApplyRecordsTheIndexAtomicallyAndIgnoresReplays() throws {
        let directory = makeTemporaryDirectory(self)
        let put = KVCommand.put(PutRequest(key: bytes("k"), value: bytes("v"))).encoded()
        do {
            let storage = try NodeStorage(directory: directory)
            let machine = storage.stateMachine
            XCTAssertNotNil(try machine.apply(index: LogIndex(1), term: Term(1), entryData: []))
            XCTAssertNotNil(try machine.apply(index: LogIndex(2), term: Term(1), entryData: put))
            XCTAssertNil(try machine.apply(index: LogIndex(2), term: Term(1), entryData: put))
            XCTAssertNil(try machine.apply(index: LogIndex(1), term: Term(1), entryData: put))
            XCTAssertEqual(machine.revision, 2)
            // A failing command is still applied (every replica fails it alike) and stores nothing.
            let failing = KVCommand.put(PutRequest(key: bytes("l"), value: bytes("v"), lease: 99)).encoded()
            let result = try XCTUnwrap(machine.apply(index: LogIndex(3), term: Term(1), entryData: failing))
            XCTAssertThrowsError(try result.get())
            let garbage = try XCTUnwrap(machine.apply(index: LogIndex(4), term: Term(1), entryData: [1, 2, 3, 4, 5, 6]))
            XCTAssertThrowsError(try garbage.get())
        }
        let machine = try NodeStorage(directory: directory).stateMachine
        XCTAssertEqual(machine.appliedIndex, LogIndex(4))
        XCTAssertEqual(machine.appliedTerm, Term(1))
        XCTAssertEqual(machine.revision, 2)
        XCTAssertNil(try machine.apply(index: LogIndex(2), entryData: put))
        XCTAssertEqual(try machine.range(RangeRequest(key: bytes("k"))).kvs.map { text($0.value) }, ["v"])
        XCTAssertEqual(try machine.range(RangeRequest(key: bytes("l"))).count, 0)
    }
}
