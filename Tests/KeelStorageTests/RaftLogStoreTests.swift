import Raft
import XCTest

@testable import KeelStorage

final class RaftLogStoreTests: XCTestCase {
    private func entries(_ range: ClosedRange<UInt64>, term: UInt64, payload: String = "x") -> [Entry] {
        range.map { Entry(term: Term(term), index: LogIndex($0), data: bytes("\(payload)\($0)")) }
    }

    /// A node compacts only what its state machine has applied; opening checks that.
    private func applyNoOps(_ storage: NodeStorage, through index: UInt64) throws {
        while storage.stateMachine.appliedIndex.rawValue < index {
            try storage.stateMachine.apply(index: storage.stateMachine.appliedIndex.advanced(by: 1), entryData: [])
        }
    }

    func testAppendWithHardStateIsDurableAcrossReopen() throws {
        let directory = makeTemporaryDirectory(self)
        let hard = HardState(term: Term(2), vote: NodeID(3), commit: LogIndex(4))
        do {
            let storage = try NodeStorage(directory: directory)
            try storage.log.append(entries(1...3, term: 1) + entries(4...5, term: 2), hardState: hard)
        }
        let storage = try NodeStorage(directory: directory)
        XCTAssertEqual(storage.log.hardState, hard)
        XCTAssertEqual(storage.log.firstIndex, LogIndex(1))
        XCTAssertEqual(storage.log.lastIndex, LogIndex(5))
        XCTAssertEqual(try storage.log.term(at: LogIndex(4)), Term(2))
        XCTAssertEqual(try storage.log.entries(from: LogIndex(1), to: LogIndex(6)), entries(1...3, term: 1) + entries(4...5, term: 2))
    }

    func testAppendingAtAnExistingIndexReplacesTheConflictingSuffix() throws {
        let directory = makeTemporaryDirectory(self)
        do {
            let storage = try NodeStorage(directory: directory)
            try storage.log.append(entries(1...6, term: 1))
            // §5.3: a follower overwrites 4...6 with the leader's shorter suffix from term 2.
            try storage.log.append(entries(4...4, term: 2, payload: "new"))
            XCTAssertEqual(storage.log.lastIndex, LogIndex(4))
        }
        let storage = try NodeStorage(directory: directory)
        XCTAssertEqual(storage.log.lastIndex, LogIndex(4))
        XCTAssertEqual(try storage.log.entry(at: LogIndex(4)), Entry(term: Term(2), index: LogIndex(4), data: bytes("new4")))
        assertStorageError(.unavailable) { try storage.log.entry(at: LogIndex(5)) }
        XCTAssertEqual(try storage.log.entries(from: LogIndex(1), to: LogIndex(4)), entries(1...3, term: 1))
    }

    func testConflictsAndCompactionThatCutThroughAppendsSpanningSeveralSegments() throws {
        let directory = makeTemporaryDirectory(self)
        do {
            let storage = try NodeStorage(directory: directory)
            for start in stride(from: 1 as UInt64, through: 10, by: 3) { try storage.log.append(entries(start...(start + 2), term: 1)) }
            XCTAssertEqual(storage.log.lastIndex, LogIndex(12))
            try storage.log.append(entries(5...6, term: 2, payload: "new"))
            try applyNoOps(storage, through: 2)
            try storage.log.compact(through: SnapshotMetadata(index: LogIndex(2), term: Term(1), confState: ConfState()))
            XCTAssertEqual(try storage.log.entries(from: LogIndex(3), to: LogIndex(7)), entries(3...4, term: 1) + entries(5...6, term: 2, payload: "new"))
        }
        let storage = try NodeStorage(directory: directory)
        XCTAssertEqual(storage.log.firstIndex, LogIndex(3))
        XCTAssertEqual(storage.log.lastIndex, LogIndex(6))
        XCTAssertEqual(try storage.log.entry(at: LogIndex(4)), entries(4...4, term: 1)[0])
        XCTAssertEqual(try storage.log.entries(from: LogIndex(4), to: LogIndex(7)), entries(4...4, term: 1) + entries(5...6, term: 2, payload: "new"))
        try storage.log.append(entries(7...7, term: 2))
        XCTAssertEqual(try storage.log.term(at: LogIndex(6)), Term(2))
    }

    func testAppendRefusesHolesDecreasingTermsAndCommitBeyondTheLog() throws {
        let storage = try NodeStorage(directory: makeTemporaryDirectory(self))
        try storage.log.append(entries(1...2, term: 2))
        assertStorageError(.invalidArgument) { try storage.log.append(entries(4...4, term: 2)) }
        assertStorageError(.invalidArgument) { try storage.log.append(entries(3...3, term: 1)) }
        assertStorageError(.invalidArgument) { try storage.log.append([], hardState: HardState(term: Term(2), commit: LogIndex(3))) }
        XCTAssertEqual(storage.log.lastIndex, LogIndex(2))
        XCTAssertEqual(storage.log.hardState, .initial)
    }

    func testAppendRefusesToCutTheLogBelowTheCommitIndex() throws {
        // Opening checks commit <= last index, so a write that broke it would leave a store that
        // no longer opens; the append must be refused instead.
        let directory = makeTemporaryDirectory(self)
        let hard = HardState(term: Term(1), vote: NodeID(1), commit: LogIndex(5))
        do {
            let storage = try NodeStorage(directory: directory)
            try storage.log.append(entries(1...6, term: 1), hardState: hard)
            assertStorageError(.invalidArgument) { try storage.log.append(entries(4...4, term: 2, payload: "new")) }
            XCTAssertEqual(storage.log.lastIndex, LogIndex(6))
            // Replacing only uncommitted entries is fine.
            try storage.log.append(entries(6...6, term: 2, payload: "new"))
        }
        let storage = try NodeStorage(directory: directory)
        XCTAssertEqual(storage.log.hardState, hard)
        XCTAssertEqual(try storage.log.entries(from: LogIndex(1), to: LogIndex(7)), entries(1...5, term: 1) + entries(6...6, term: 2, payload: "new"))
    }

    func testInstallingASnapshotThatConflictsWithCommittedEntriesIsRefused() throws {
        // Entry 3 is committed with term 1; a snapshot claiming term 2 at index 3 contradicts it.
        // Discarding the log for it would leave commit 5 beyond the last index 3, a store that no
        // longer opens.
        let directory = makeTemporaryDirectory(self)
        do {
            let storage = try NodeStorage(directory: directory)
            try storage.log.append(entries(1...5, term: 1), hardState: HardState(term: Term(1), commit: LogIndex(5)))
            assertStorageError(.invalidArgument) {
                try storage.log.installSnapshot(SnapshotMetadata(index: LogIndex(3), term: Term(2), confState: ConfState()))
            }
            XCTAssertEqual(storage.log.lastIndex, LogIndex(5))
        }
        let storage = try NodeStorage(directory: directory)
        XCTAssertEqual(try storage.log.entries(from: LogIndex(1), to: LogIndex(6)), entries(1...5, term: 1))
        XCTAssertEqual(storage.log.snapshotMetadata.index, LogIndex.zero)
    }

    func testReadsAreBoundedByBytesButReturnAtLeastOneEntry() throws {
        let storage = try NodeStorage(directory: makeTemporaryDirectory(self))
        let big = (1...10).map { Entry(term: Term(1), index: LogIndex($0), data: [UInt8](repeating: UInt8($0), count: 100)) }
        try storage.log.append(big)
        let recordBytes = 100 + LogSegmentCoding.entryOverheadBytes
        let some = try storage.log.entries(from: LogIndex(1), to: LogIndex(11), bytesMax: recordBytes * 3 + 1)
        XCTAssertEqual(some, Array(big[0..<3]))
        let one = try storage.log.entries(from: LogIndex(2), to: LogIndex(11), bytesMax: 1)
        XCTAssertEqual(one, [big[1]])
        assertStorageError(.unavailable) { try storage.log.entries(from: LogIndex(1), to: LogIndex(12)) }
    }

    func testCompactionDropsEntriesThroughTheSnapshotAndKeepsTheRest() throws {
        let directory = makeTemporaryDirectory(self)
        let conf = ConfState(voters: [NodeID(1)])
        do {
            let storage = try NodeStorage(directory: directory)
            try storage.log.append(entries(1...10, term: 1))
            try applyNoOps(storage, through: 6)
            try storage.log.compact(through: SnapshotMetadata(index: LogIndex(6), term: Term(1), confState: conf))
            assertStorageError(.invalidArgument) {
                try storage.log.compact(through: SnapshotMetadata(index: LogIndex(8), term: Term(5), confState: conf))
            }
        }
        let storage = try NodeStorage(directory: directory)
        XCTAssertEqual(storage.log.firstIndex, LogIndex(7))
        XCTAssertEqual(storage.log.lastIndex, LogIndex(10))
        XCTAssertEqual(try storage.log.term(at: LogIndex(6)), Term(1))
        assertStorageError(.compacted) { try storage.log.entry(at: LogIndex(6)) }
        assertStorageError(.compacted) { try storage.log.entries(from: LogIndex(5), to: LogIndex(8)) }
        assertStorageError(.compacted) { try storage.log.append(entries(6...6, term: 1)) }
        XCTAssertEqual(try storage.log.entries(from: LogIndex(7), to: LogIndex(11)), entries(7...10, term: 1))
        // Appending right after the snapshot boundary works on a fully compacted log.
        try applyNoOps(storage, through: 10)
        try storage.log.compact(through: SnapshotMetadata(index: LogIndex(10), term: Term(1), confState: conf))
        try storage.log.append(entries(11...11, term: 2))
        XCTAssertEqual(try storage.log.entries(from: LogIndex(11), to: LogIndex(12)), entries(11...11, term: 2))
    }

    func testInstallingASnapshotKeepsAMatchingSuffixOrDiscardsTheLog() throws {
        let storage = try NodeStorage(directory: makeTemporaryDirectory(self))
        try storage.log.append(entries(1...5, term: 1))
        try storage.log.installSnapshot(SnapshotMetadata(index: LogIndex(3), term: Term(1), confState: ConfState()))
        XCTAssertEqual(storage.log.lastIndex, LogIndex(5))
        XCTAssertEqual(storage.log.hardState.commit, LogIndex(3))
        try storage.log.installSnapshot(SnapshotMetadata(index: LogIndex(8), term: Term(3), confState: ConfState()))
        XCTAssertEqual(storage.log.lastIndex, LogIndex(8))
        XCTAssertEqual(storage.log.firstIndex, LogIndex(9))
        XCTAssertEqual(try storage.log.term(at: LogIndex(8)), Term(3))
    }

    func testOpenReportsAHoleNamingTheMissingIndex() throws {
        let directory = makeTemporaryDirectory(self)
        do {
            let storage = try NodeStorage(directory: directory)
            for index in 1...5 as ClosedRange<UInt64> { try storage.log.append(entries(index...index, term: 1)) }
        }
        do {
            let database = try RocksDatabase(path: directory, columnFamilies: NodeStorage.columnFamilies, options: StorageOptions())
            let batch = RocksWriteBatch()
            batch.delete(family: database.family(RaftLogStore.logFamily), bigEndianKey(3))
            try database.write(batch, sync: true)
        }
        let error = assertStorageError(.corruption) { try NodeStorage(directory: directory) }
        print("open with a hole in the log: \(error.map(String.init(describing:)) ?? "")")
        XCTAssertTrue(error?.message.contains("expected entry 3 but found 4") == true)
    }

    func testOpenReportsAFirstIndexOrCommitThatDisagreesWithTheMetadata() throws {
        let directory = makeTemporaryDirectory(self)
        do {
            let storage = try NodeStorage(directory: directory)
            try storage.log.append(entries(1...8, term: 1), hardState: HardState(term: Term(1), commit: LogIndex(8)))
            try applyNoOps(storage, through: 5)
            try storage.log.compact(through: SnapshotMetadata(index: LogIndex(5), term: Term(1), confState: ConfState()))
        }
        func damage(_ change: (RocksDatabase, RocksWriteBatch) -> Void) throws {
            let database = try RocksDatabase(path: directory, columnFamilies: NodeStorage.columnFamilies, options: StorageOptions())
            let batch = RocksWriteBatch()
            change(database, batch)
            try database.write(batch, sync: true)
        }
        // An entry the snapshot covers reappears.
        try damage { database, batch in
            batch.put(family: database.family(RaftLogStore.logFamily), bigEndianKey(4), LogSegmentCoding.encode(self.entries(4...4, term: 1)[...]))
        }
        var error = assertStorageError(.corruption) { try NodeStorage(directory: directory) }
        print("open with an entry below the snapshot: \(error.map(String.init(describing:)) ?? "")")
        XCTAssertTrue(error?.message.contains("entry 4 overlaps entries before 6 or the snapshot at 5") == true, error?.message ?? "")
        // The first entry after the snapshot is missing.
        try damage { database, batch in
            let family = database.family(RaftLogStore.logFamily)
            batch.delete(family: family, bigEndianKey(4))
            batch.delete(family: family, bigEndianKey(6))
            batch.put(family: family, bigEndianKey(7), LogSegmentCoding.encode(self.entries(7...8, term: 1)[...]))
        }
        error = assertStorageError(.corruption) { try NodeStorage(directory: directory) }
        XCTAssertTrue(error?.message.contains("expected entry 6 but found 7") == true, error?.message ?? "")
        // The tail is missing while the hard state says it was committed.
        try damage { database, batch in
            let family = database.family(RaftLogStore.logFamily)
            batch.delete(family: family, bigEndianKey(7))
            batch.put(family: family, bigEndianKey(6), LogSegmentCoding.encode(self.entries(6...7, term: 1)[...]))
        }
        error = assertStorageError(.corruption) { try NodeStorage(directory: directory) }
        print("open with committed entries missing: \(error.map(String.init(describing:)) ?? "")")
        XCTAssertTrue(error?.message.contains("commit index 8 is beyond last entry 7") == true, error?.message ?? "")
    }

    func testOpenReportsADecreasingTermAndABitFlipNamingTheIndex() throws {
        let directory = makeTemporaryDirectory(self)
        do {
            let storage = try NodeStorage(directory: directory)
            for index in 1...5 as ClosedRange<UInt64> { try storage.log.append(entries(index...index, term: 2)) }
        }
        do {
            let database = try RocksDatabase(path: directory, columnFamilies: NodeStorage.columnFamilies, options: StorageOptions())
            let family = database.family(RaftLogStore.logFamily)
            let batch = RocksWriteBatch()
            batch.put(family: family, bigEndianKey(4), LogSegmentCoding.encode([Entry(term: Term(1), index: LogIndex(4))]))
            try database.write(batch, sync: true)
        }
        var error = assertStorageError(.corruption) { try NodeStorage(directory: directory) }
        print("open with a decreasing term: \(error.map(String.init(describing:)) ?? "")")
        XCTAssertTrue(error?.message.contains("term decreases at entry 4") == true)
        do {
            let database = try RocksDatabase(path: directory, columnFamilies: NodeStorage.columnFamilies, options: StorageOptions())
            var damaged = LogSegmentCoding.encode([Entry(term: Term(2), index: LogIndex(4), data: bytes("abc"))])
            damaged[12] ^= 0x10
            try database.put(RaftLogStore.logFamily, bigEndianKey(4), damaged, sync: true)
        }
        error = assertStorageError(.corruption) { try NodeStorage(directory: directory) }
        print("open with a flipped bit in entry 4: \(error.map(String.init(describing:)) ?? "")")
        XCTAssertTrue(error?.message.contains("raft log segment at entry 4: checksum mismatch") == true)
    }

    func testOpenReportsEntriesCompactedBeforeTheyWereApplied() throws {
        // Entries 3...5 are gone from the log but were never applied: a restarted node would skip
        // them silently, so opening must report it instead.
        let directory = makeTemporaryDirectory(self)
        do {
            let storage = try NodeStorage(directory: directory)
            try storage.log.append(entries(1...6, term: 1), hardState: HardState(term: Term(1), commit: LogIndex(6)))
            try storage.stateMachine.apply(index: LogIndex(1), term: Term(1), entryData: [])
            try storage.stateMachine.apply(index: LogIndex(2), term: Term(1), entryData: [])
            try storage.log.compact(through: SnapshotMetadata(index: LogIndex(5), term: Term(1), confState: ConfState()))
        }
        let error = assertStorageError(.corruption) { try NodeStorage(directory: directory) }
        print("open with entries compacted before being applied: \(error.map(String.init(describing:)) ?? "")")
        XCTAssertTrue(error?.message.contains("applied index 2 is below the log's snapshot index 5") == true, error?.message ?? "")
    }

    func testRestartStateCarriesWhatTheCoreNeeds() throws {
        let directory = makeTemporaryDirectory(self)
        let conf = ConfState(voters: [NodeID(1), NodeID(2), NodeID(3)])
        do {
            let storage = try NodeStorage(directory: directory)
            try storage.log.append(entries(1...6, term: 1), hardState: HardState(term: Term(1), vote: NodeID(2), commit: LogIndex(5)))
            try storage.log.compact(through: SnapshotMetadata(index: LogIndex(2), term: Term(1), confState: ConfState(voters: [NodeID(1)])))
            try storage.stateMachine.applyConfChange(index: LogIndex(3), term: Term(1), confState: conf)
            try storage.stateMachine.apply(index: LogIndex(4), term: Term(1), entryData: KVCommand.put(PutRequest(key: bytes("k"), value: bytes("v"))).encoded())
        }
        let state = try NodeStorage(directory: directory).restartState()
        XCTAssertEqual(state.hardState, HardState(term: Term(1), vote: NodeID(2), commit: LogIndex(5)))
        XCTAssertEqual(state.snapshotMetadata.index, LogIndex(2))
        XCTAssertEqual(state.entries.map(\.index), (3...6).map { LogIndex($0) })
        XCTAssertEqual(state.confState, conf)
        XCTAssertEqual(state.appliedIndex, LogIndex(4))
    }
}
