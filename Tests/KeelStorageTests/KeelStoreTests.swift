import Raft
import XCTest

@testable import KeelStorage

final class KeelStoreTests: XCTestCase {
    func testSingleNodeUseSurvivesCloseAndReopen() throws {
        let directory = makeTemporaryDirectory(self)
        do {
            let store = try KeelStore.open(directory: directory)
            try store.put("config/a", "1")
            try store.put("config/b", "2")
            try store.put("other", "3")
            let response = try store.txn(TxnRequest(
                compare: [Compare(key: bytes("config/a"), target: .value(bytes("1")), result: .equal)],
                success: [.put(PutRequest(key: bytes("config/a"), value: bytes("10")))]))
            XCTAssertTrue(response.succeeded)
            try store.delete(DeleteRangeRequest(key: bytes("other")))
            try store.compact(3)
            store.close()
        }
        let store = try KeelStore.open(directory: directory)
        XCTAssertEqual(store.revision, 6)
        XCTAssertEqual(store.compactedRevision, 3)
        XCTAssertEqual(try store.get("config/a").map { text($0.value) }, "10")
        XCTAssertNil(try store.get("other"))
        let prefix = try store.range(.prefix(bytes("config/")))
        XCTAssertEqual(prefix.kvs.map { text($0.key) + "=" + text($0.value) }, ["config/a=10", "config/b=2"])
        XCTAssertEqual(try store.range(RangeRequest(key: bytes("other"), revision: 4)).kvs.map { text($0.value) }, ["3"])
        assertStorageError(.compacted) { try store.range(RangeRequest(key: bytes("other"), revision: 2)) }
        XCTAssertEqual(try store.put("config/c", "3"), 7)
    }

    func testANewStoreRecordsItsRevisionBaseBeforeAnyWrite() throws {
        let directory = makeTemporaryDirectory(self)
        do {
            let storage = try NodeStorage(directory: directory)
            let machine = storage.stateMachine
            XCTAssertEqual(try KVStateMachine.readInt(machine.database, KVStateMachine.revisionBaseKey, what: "base"), 1)
            XCTAssertEqual(try KVStateMachine.readInt(machine.database, KVStateMachine.revisionKey, what: "revision"), 1)
        }
        XCTAssertEqual(try NodeStorage(directory: directory).stateMachine.revision, 1)
    }

    func testAStoreFromTheBuildThatNumberedFromZeroIsRefused() throws {
        let directory = makeTemporaryDirectory(self)
        do {
            let storage = try NodeStorage(directory: directory)
            let put = KVCommand.put(PutRequest(key: bytes("k"), value: bytes("v"))).encoded()
            _ = try XCTUnwrap(storage.stateMachine.apply(index: LogIndex(1), entryData: put)).get()
            // What that build left: the same keys, but no record of where the numbering started.
            try storage.stateMachine.database.deleteRange(
                KVStateMachine.metaFamily, from: KVStateMachine.revisionBaseKey, to: KVStateMachine.revisionBaseKey + [0], sync: true)
        }
        let error = assertStorageError(.unsupportedVersion) { try NodeStorage(directory: directory) }
        XCTAssertTrue(error?.message.contains("revisions started at 0") == true, error?.message ?? "")
        XCTAssertTrue(error?.message.contains("empty data directory") == true, error?.message ?? "")
    }
}
