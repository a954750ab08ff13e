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
}
