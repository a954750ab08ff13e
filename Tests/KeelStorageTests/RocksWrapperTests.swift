import XCTest

@testable import KeelStorage

final class RocksWrapperTests: XCTestCase {
    private func open(_ path: String) throws -> RocksDatabase {
        var options = StorageOptions()
        options.writeBufferBytes = 1 << 20
        options.blockCacheBytes = 1 << 20
        return try RocksDatabase(path: path, columnFamilies: ["a", "b"], options: options)
    }

    func testBatchIsAtomicAcrossColumnFamiliesAndSurvivesReopen() throws {
        let path = makeTemporaryDirectory(self)
        do {
            let database = try open(path)
            let batch = RocksWriteBatch()
            batch.put(family: database.family("a"), bytes("x"), bytes("1"))
            batch.put(family: database.family("b"), bytes("x"), bytes("2"))
            XCTAssertEqual(batch.count, 2)
            try database.write(batch, sync: true)
        }
        let database = try open(path)
        XCTAssertEqual(try database.get("a", bytes("x")), bytes("1"))
        XCTAssertEqual(try database.get("b", bytes("x")), bytes("2"))
        XCTAssertNil(try database.get("a", bytes("y")))
    }

    func testIteratorHonoursBoundsAndDeleteRangeRemovesHalfOpenRange() throws {
        let database = try open(makeTemporaryDirectory(self))
        for key in ["a1", "a2", "a3", "b1"] { try database.put("a", bytes(key), bytes(key), sync: false) }
        var seen: [String] = []
        try database.iterator("a").forEach(from: bytes("a"), to: bytes("b")) { key, value in
            XCTAssertEqual(key, value)
            seen.append(text(key))
            return true
        }
        XCTAssertEqual(seen, ["a1", "a2", "a3"])
        try database.deleteRange("a", from: bytes("a2"), to: bytes("b1"), sync: false)
        seen = []
        try database.iterator("a").forEach(from: [], to: nil) { key, _ in
            seen.append(text(key))
            return true
        }
        XCTAssertEqual(seen, ["a1", "b1"])
    }

    func testSnapshotIsAConsistentPointInTimeView() throws {
        let database = try open(makeTemporaryDirectory(self))
        try database.put("a", bytes("k"), bytes("old"), sync: false)
        let view = database.snapshot()
        try database.put("a", bytes("k"), bytes("new"), sync: false)
        try database.put("a", bytes("k2"), bytes("added"), sync: false)
        XCTAssertEqual(try database.get("a", bytes("k"), snapshot: view), bytes("old"))
        XCTAssertNil(try database.get("a", bytes("k2"), snapshot: view))
        let iterator = database.iterator("a", snapshot: view)
        iterator.seekToFirst()
        XCTAssertTrue(iterator.isValid)
        iterator.next()
        XCTAssertFalse(iterator.isValid)
        XCTAssertEqual(try database.get("a", bytes("k")), bytes("new"))
    }

    func testCheckpointOpensAsAnIndependentCopy() throws {
        let base = makeTemporaryDirectory(self)
        let database = try open(base + "/db")
        try database.put("b", bytes("k"), bytes("v"), sync: true)
        try database.checkpoint(into: base + "/copy")
        try database.put("b", bytes("k"), bytes("changed"), sync: true)
        let copy = try open(base + "/copy")
        XCTAssertEqual(try copy.get("b", bytes("k")), bytes("v"))
    }

    func testOpenFailureBecomesAStorageErrorWithRocksDBsMessage() throws {
        let base = makeTemporaryDirectory(self)
        let first = try open(base)
        // A second open of the same directory fails on RocksDB's lock file.
        let error = assertStorageError(.io) { try open(base) }
        XCTAssertTrue(error?.message.contains("lock") == true, error?.message ?? "")
        withExtendedLifetime(first) {}
    }
}
