import Raft
import XCTest

@testable import KeelStorage

final class SnapshotTests: XCTestCase {
    private func openStore(_ label: String) throws -> KeelStore {
        try KeelStore.open(directory: makeTemporaryDirectory(self, name + label))
    }

    /// Everything a client can observe, for comparing two stores.
    private func observable(_ store: KeelStore) throws -> [KeyValue] {
        try store.range(RangeRequest(key: [0], rangeEnd: [0])).kvs
    }

    private func fill(_ store: KeelStore, count: Int, prefix: String) throws {
        try store.grantLease(id: 42, ttlSeconds: 60)
        for index in 0..<count {
            // Values big enough that the stream spans several chunks.
            try store.put(PutRequest(key: bytes("\(prefix)\(index)"), value: [UInt8](repeating: UInt8(index % 251), count: 4096), lease: index % 10 == 0 ? 42 : 0))
        }
        try store.delete(DeleteRangeRequest(key: bytes("\(prefix)1"), rangeEnd: bytes("\(prefix)2")))
    }

    func testSnapshotRestoresIntoAFreshStoreAndIsAPointInTimeImage() throws {
        let source = try openStore("source")
        try fill(source, count: 150, prefix: "k")
        let expected = try observable(source)
        let expectedRevision = source.revision
        let writer = source.makeSnapshot()
        // Writes after the snapshot began must not leak into it.
        try source.put("late", "write")
        let chunks = try writer.allChunks()
        XCTAssertGreaterThan(chunks.count, 3, "the image should span several data chunks")

        let target = try openStore("target")
        let receiver = SnapshotReceiver()
        for chunk in chunks { try receiver.receive(chunk) }
        XCTAssertTrue(receiver.isComplete)
        XCTAssertEqual(receiver.header?.appliedIndex, writer.header.appliedIndex)
        try target.restore(from: receiver)
        XCTAssertEqual(try observable(target), expected)
        XCTAssertEqual(target.revision, expectedRevision)
        XCTAssertNil(try target.get("late"))
        // Leases and history travel too: revoking the lease deletes its keys; old revisions read.
        try target.revokeLease(id: 42)
        XCTAssertNil(try target.get("k0"))
        XCTAssertNotNil(try target.get("k5"))
        XCTAssertEqual(try target.range(RangeRequest(key: bytes("k1"), revision: 3)).kvs.count, 1)
    }

    func testSnapshotReplacesAnExistingStoresState() throws {
        let source = try openStore("source")
        try fill(source, count: 20, prefix: "new")
        let target = try openStore("target")
        try fill(target, count: 30, prefix: "old")
        try target.put("only-in-target", "x")
        let receiver = SnapshotReceiver()
        for chunk in try source.makeSnapshot().allChunks() { try receiver.receive(chunk) }
        try target.restore(from: receiver)
        XCTAssertEqual(try observable(target), try observable(source))
        XCTAssertNil(try target.get("only-in-target"))
        XCTAssertEqual(target.revision, source.revision)
    }

    func testAnEmptyStoresSnapshotBringsBackRevisionOne() throws {
        let empty = try openStore("empty")
        let directory = makeTemporaryDirectory(self, name + "target")
        do {
            let target = try KeelStore.open(directory: directory)
            try fill(target, count: 5, prefix: "old")
            let receiver = SnapshotReceiver()
            for chunk in try empty.makeSnapshot().allChunks() { try receiver.receive(chunk) }
            try target.restore(from: receiver)
            XCTAssertEqual(target.revision, 1)
            XCTAssertEqual(try observable(target), [])
            target.close()
        }
        // The image carried the revision base too, so the restored store opens as one of this build's.
        let reopened = try KeelStore.open(directory: directory)
        XCTAssertEqual(reopened.revision, 1)
        XCTAssertEqual(try reopened.put("k", "v"), 2)
    }

    func testASnapshotStreamOutlivesTheStoreItWasTakenFrom() throws {
        // The stream holds the RocksDB snapshot and iterators; closing the store must not free
        // them underneath it (the database stays open until the stream is gone).
        var source: KeelStore? = try openStore("source")
        try fill(source!, count: 100, prefix: "k")
        let expected = try observable(source!)
        let writer = source!.makeSnapshot()
        let first = try XCTUnwrap(writer.nextChunk())
        source!.close()
        source = nil
        let receiver = SnapshotReceiver()
        try receiver.receive(first)
        while let chunk = try writer.nextChunk() { try receiver.receive(chunk) }
        let target = try openStore("target")
        try target.restore(from: receiver)
        XCTAssertEqual(try observable(target), expected)
    }

    func testTornAndCorruptStreamsAreRejectedAndTheOldStateKept() throws {
        let source = try openStore("source")
        try fill(source, count: 100, prefix: "s")
        let chunks = try source.makeSnapshot().allChunks()
        let target = try openStore("target")
        try target.put("mine", "keep")
        let before = try observable(target)

        // Torn: the trailer never arrives.
        let torn = SnapshotReceiver()
        for chunk in chunks.dropLast() { try torn.receive(chunk) }
        var error = assertStorageError(.snapshotInvalid) { try target.restore(from: torn) }
        print("restore from a torn snapshot: \(error.map(String.init(describing:)) ?? "")")

        // Corrupt: one flipped bit in a data chunk.
        var flipped = chunks[2]
        flipped[flipped.count / 2] ^= 0x04
        let corrupt = SnapshotReceiver()
        try corrupt.receive(chunks[0])
        try corrupt.receive(chunks[1])
        error = assertStorageError(.snapshotInvalid) { try corrupt.receive(flipped) }
        print("receive a bit-flipped snapshot chunk: \(error.map(String.init(describing:)) ?? "")")
        assertStorageError(.snapshotInvalid) { try target.restore(from: corrupt) }

        // Reordered: a chunk skipped.
        let reordered = SnapshotReceiver()
        try reordered.receive(chunks[0])
        error = assertStorageError(.snapshotInvalid) { try reordered.receive(chunks[2]) }
        XCTAssertEqual(error?.message, "snapshot: expected chunk 1, got 2")

        // A chunk from another snapshot spliced in with a valid frame fails the whole-stream checksum.
        let other = try openStore("other")
        try fill(other, count: 100, prefix: "o")
        let otherChunks = try other.makeSnapshot().allChunks()
        let spliced = SnapshotReceiver()
        for (index, chunk) in chunks.enumerated() {
            let piece = index == 1 ? otherChunks[1] : chunk
            if index == chunks.count - 1 {
                error = assertStorageError(.snapshotInvalid) { try spliced.receive(piece) }
                print("receive a spliced snapshot: \(error.map(String.init(describing:)) ?? "")")
            } else {
                try spliced.receive(piece)
            }
        }
        assertStorageError(.snapshotInvalid) { try target.restore(from: spliced) }

        XCTAssertEqual(try observable(target), before)
        XCTAssertEqual(try target.get("mine").map { text($0.value) }, "keep")
    }

    func testInstallingASnapshotOnANodeMovesTheLogAndTheStateMachineTogether() throws {
        let leader = try NodeStorage(directory: makeTemporaryDirectory(self, "leader"))
        let conf = ConfState(voters: [NodeID(1), NodeID(2)])
        try leader.stateMachine.applyConfChange(index: LogIndex(1), term: Term(2), confState: conf)
        try leader.stateMachine.apply(index: LogIndex(2), term: Term(2), entryData: KVCommand.put(PutRequest(key: bytes("a"), value: bytes("1"))).encoded())
        let receiver = SnapshotReceiver()
        for chunk in try leader.stateMachine.makeSnapshot().allChunks() { try receiver.receive(chunk) }

        let directory = makeTemporaryDirectory(self, "follower")
        do {
            let follower = try NodeStorage(directory: directory)
            try follower.log.append([Entry(term: Term(1), index: LogIndex(1))])
            try follower.installSnapshot(receiver, term: Term(2))
        }
        let follower = try NodeStorage(directory: directory)
        let state = try follower.restartState()
        XCTAssertEqual(state.snapshotMetadata, SnapshotMetadata(index: LogIndex(2), term: Term(2), confState: conf))
        XCTAssertEqual(state.appliedIndex, LogIndex(2))
        XCTAssertEqual(state.confState, conf)
        XCTAssertEqual(state.hardState.commit, LogIndex(2))
        XCTAssertTrue(state.entries.isEmpty)
        XCTAssertEqual(try follower.stateMachine.range(RangeRequest(key: bytes("a"))).kvs.map { text($0.value) }, ["1"])
    }
}
