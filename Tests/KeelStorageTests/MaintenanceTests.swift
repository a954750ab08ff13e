import Raft
import XCTest

@testable import KeelStorage

/// HashKV and Hash, alarms with the NOSPACE cap, and defragmentation, on the state machine itself.
final class MaintenanceTests: XCTestCase {
    private func openStorage(_ directory: String? = nil) throws -> NodeStorage {
        var options = StorageOptions()
        options.writeBufferBytes = 1 << 20
        return try NodeStorage(directory: directory ?? makeTemporaryDirectory(self, name), options: options)
    }

    /// Applies `command` as the next entry and returns its result.
    @discardableResult
    private func apply(_ storage: NodeStorage, _ command: KVCommand) throws -> Result<KVResponse, StorageError> {
        let machine = storage.stateMachine
        return try XCTUnwrap(try machine.apply(index: machine.appliedIndex.advanced(by: 1), entryData: command.encoded()))
    }

    private func put(_ key: String, _ value: String, lease: Int64 = 0) -> KVCommand {
        .put(PutRequest(key: bytes(key), value: bytes(value), lease: lease))
    }

    /// The same writes give the same hash at every revision; one field of one version that differs
    /// (a value, a lease) changes it.
    func testHashKVIsEqualForEqualHistoriesAndCoversEveryField() throws {
        let commands: [KVCommand] = [
            .leaseGrant(id: 7, ttlSeconds: 60), put("a", "1"), put("b", "2", lease: 7), put("a", "3"),
            .deleteRange(DeleteRangeRequest(key: bytes("b"))), put("c", "4"),
        ]
        let first = try openStorage(makeTemporaryDirectory(self, name + "1"))
        let second = try openStorage(makeTemporaryDirectory(self, name + "2"))
        for command in commands {
            _ = try apply(first, command).get()
            _ = try apply(second, command).get()
        }
        let revision = first.stateMachine.revision
        for at in [Int64(0), 2, 3, 4, 5, revision] {
            XCTAssertEqual(
                try first.stateMachine.makeHasher().hashKV(revision: at), try second.stateMachine.makeHasher().hashKV(revision: at),
                "at revision \(at)")
        }
        // Later writes do not change the hash at an earlier revision.
        let before = try first.stateMachine.makeHasher().hashKV(revision: revision)
        _ = try apply(first, put("d", "5")).get()
        XCTAssertEqual(try first.stateMachine.makeHasher().hashKV(revision: revision).hash, before.hash)
        XCTAssertNotEqual(try first.stateMachine.makeHasher().hashKV(revision: 0).hash, before.hash)

        // One differing value, one differing lease: different hashes at the revision they were written.
        let changedValue = try openStorage(makeTemporaryDirectory(self, name + "3"))
        let changedLease = try openStorage(makeTemporaryDirectory(self, name + "4"))
        for command in commands {
            switch command {
            case .put(let request) where request.key == bytes("b"):
                _ = try apply(changedValue, put("b", "X", lease: 7)).get()
                _ = try apply(changedLease, put("b", "2")).get()
            default:
                _ = try apply(changedValue, command).get()
                _ = try apply(changedLease, command).get()
            }
        }
        let reference = try second.stateMachine.makeHasher().hashKV(revision: 3).hash
        XCTAssertNotEqual(try changedValue.stateMachine.makeHasher().hashKV(revision: 3).hash, reference, "the value is not hashed")
        XCTAssertNotEqual(try changedLease.stateMachine.makeHasher().hashKV(revision: 3).hash, reference, "the lease is not hashed")
        // Before that write they agree.
        XCTAssertEqual(
            try changedValue.stateMachine.makeHasher().hashKV(revision: 2).hash, try second.stateMachine.makeHasher().hashKV(revision: 2).hash)
    }

    /// Hash covers the whole state: equal after the same entries, different when only a lease's
    /// TTL differs (HashKV does not look at leases).
    func testHashCoversLeasesAndMeta() throws {
        let first = try openStorage(makeTemporaryDirectory(self, name + "1"))
        let second = try openStorage(makeTemporaryDirectory(self, name + "2"))
        for storage in [first, second] { _ = try apply(storage, put("a", "1")).get() }
        XCTAssertEqual(try first.stateMachine.makeHasher().hashAll(), try second.stateMachine.makeHasher().hashAll())
        _ = try apply(first, .leaseGrant(id: 5, ttlSeconds: 60)).get()
        _ = try apply(second, .leaseGrant(id: 5, ttlSeconds: 61)).get()
        XCTAssertEqual(try first.stateMachine.makeHasher().hashKV(revision: 0), try second.stateMachine.makeHasher().hashKV(revision: 0))
        XCTAssertNotEqual(try first.stateMachine.makeHasher().hashAll(), try second.stateMachine.makeHasher().hashAll())
    }

    /// etcd's errors: a future revision, a compacted one; the answer carries the compacted revision.
    func testHashKVRefusesFutureAndCompactedRevisions() throws {
        let storage = try openStorage()
        for value in ["1", "2", "3"] { _ = try apply(storage, put("k", value)).get() }
        let revision = storage.stateMachine.revision
        assertStorageError(.unavailable) { try storage.stateMachine.makeHasher().hashKV(revision: revision + 1) }
        let beforeCompaction = try storage.stateMachine.makeHasher().hashKV(revision: 0)
        XCTAssertEqual(beforeCompaction.compactRevision, 0)
        _ = try apply(storage, .compact(revision: revision - 1)).get()
        assertStorageError(.compacted) { try storage.stateMachine.makeHasher().hashKV(revision: revision - 1) }
        let after = try storage.stateMachine.makeHasher().hashKV(revision: 0)
        XCTAssertEqual(after.compactRevision, revision - 1)
        XCTAssertEqual(after.hashedRevision, revision)
        XCTAssertNotEqual(after.hash, beforeCompaction.hash, "compaction changed the history but not the hash")
    }

    /// While NOSPACE is raised every replica refuses what grows the store (puts, transactions with a
    /// put, lease grants) and accepts the rest; disarming reopens writes; the alarm is stored.
    func testNoSpaceCapsGrowingWritesUntilDisarmedAndSurvivesReopening() throws {
        let directory = makeTemporaryDirectory(self, name)
        var storage: NodeStorage? = try openStorage(directory)
        _ = try apply(storage!, put("a", "1")).get()
        let raise = AlarmRequest(action: .activate, memberID: 42, kind: .noSpace)
        XCTAssertEqual(try apply(storage!, .alarm(raise)).get(), .alarm([AlarmMember(memberID: 42, kind: .noSpace)]))
        XCTAssertEqual(try apply(storage!, .alarm(raise)).get(), .alarm([]), "raising twice answers nothing new")
        storage = nil
        storage = try openStorage(directory)
        let machine = storage!.stateMachine
        XCTAssertEqual(machine.alarms, [AlarmMember(memberID: 42, kind: .noSpace)], "the alarm did not survive reopening")
        let growing: [KVCommand] = [
            put("b", "2"), .leaseGrant(id: 9, ttlSeconds: 60),
            .txn(TxnRequest(success: [.put(PutRequest(key: bytes("c"), value: bytes("3")))])),
            .txn(TxnRequest(failure: [.txn(TxnRequest(success: [.put(PutRequest(key: bytes("c"), value: bytes("3")))]))])),
        ]
        for command in growing {
            guard case .failure(let error) = try apply(storage!, command) else { return XCTFail("\(command) was applied under NOSPACE") }
            XCTAssertEqual(error.code, .noSpace)
        }
        let revision = machine.revision
        XCTAssertEqual(revision, 2, "a refused write consumed a revision")
        _ = try apply(storage!, .deleteRange(DeleteRangeRequest(key: bytes("a")))).get()
        _ = try apply(storage!, .txn(TxnRequest(success: [.deleteRange(DeleteRangeRequest(key: bytes("z")))]))).get()
        _ = try apply(storage!, .compact(revision: machine.revision)).get()
        XCTAssertEqual(
            try apply(storage!, .alarm(AlarmRequest(action: .get, memberID: 0, kind: .none))).get(),
            .alarm([AlarmMember(memberID: 42, kind: .noSpace)]))
        let disarm = AlarmRequest(action: .deactivate, memberID: 42, kind: .noSpace)
        XCTAssertEqual(try apply(storage!, .alarm(disarm)).get(), .alarm([AlarmMember(memberID: 42, kind: .noSpace)]))
        XCTAssertEqual(machine.alarms, [])
        _ = try apply(storage!, put("b", "2")).get()
    }

    /// Compaction and defragmentation give back the space overwritten values took.
    func testDefragmentShrinksTheStoreAfterCompaction() throws {
        let storage = try openStorage()
        let machine = storage.stateMachine
        let value = String(repeating: "x", count: 64 << 10)
        for _ in 0..<64 { _ = try apply(storage, put("big", value)).get() }
        try machine.defragment()
        let full = machine.sizeBytes()
        XCTAssertGreaterThan(full, 64 * (64 << 10), "every version is still stored")
        _ = try apply(storage, .compact(revision: machine.revision)).get()
        try machine.defragment()
        let compacted = machine.sizeBytes()
        XCTAssertLessThan(compacted, full / 8, "defragmentation after compaction left \(compacted) of \(full) bytes")
        XCTAssertEqual(try machine.range(RangeRequest(key: bytes("big"))).kvs.first?.value.count, 64 << 10)
    }
}
