import Foundation
import KeelNode
import KeelStorage
import Raft
import XCTest

@testable import NodeSimulation

/// The simulation's in-memory store must answer lease commands as the RocksDB state machine the
/// server runs does, or the node simulation would judge the lessor against the wrong store.
final class MemoryKVLeaseTests: XCTestCase {
    func testLeaseCommandsAnswerAsTheRocksDBStateMachineDoes() throws {
        let directory = NSTemporaryDirectory() + "keel-memorykv-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let storage = try NodeStorage(directory: directory)
        var memory = MemoryKV()
        func put(_ key: String, lease: Int64) -> KVCommand {
            .put(PutRequest(key: Array(key.utf8), value: Array("v".utf8), lease: lease))
        }
        let commands: [KVCommand] = [
            .leaseGrant(id: 1, ttlSeconds: 5),
            .leaseGrant(id: 1, ttlSeconds: 5),  // exists
            .leaseGrant(id: 3, ttlSeconds: 0),  // refused TTL
            put("a", lease: 1),
            put("b", lease: 2),  // no such lease
            .leaseGrant(id: 2, ttlSeconds: 7),
            put("b", lease: 2),
            put("c", lease: 0),
            put("a", lease: 2),  // moves from lease 1 to 2
            .leaseCheckpoint([LeaseCheckpoint(id: 1, remainingMilliseconds: 1200), LeaseCheckpoint(id: 9, remainingMilliseconds: 5)]),
            .leaseCheckpoint([LeaseCheckpoint(id: 2, remainingMilliseconds: 0)]),
            .leaseRevoke(id: 1),  // holds no key any more: no new revision
            .leaseRevoke(id: 2),  // deletes a and b in one revision
            .leaseRevoke(id: 2),  // gone
            .range(RangeRequest(key: Array("a".utf8), rangeEnd: Array("z".utf8))),
        ]
        for (offset, command) in commands.enumerated() {
            let real = try XCTUnwrap(try storage.stateMachine.apply(index: LogIndex(UInt64(offset + 1)), entryData: command.encoded()))
            // Through the encoding, as the simulated store applies entries.
            let simulated = memory.apply(try KVCommand(decoding: command.encoded()))
            switch (real, simulated) {
            case (.success(let expected), .success(let got)):
                XCTAssertEqual(got, expected, "command \(offset): \(command)")
            case (.failure(let expected), .failure(let got)):
                XCTAssertEqual(got.code, expected.code, "command \(offset): \(command)")
                XCTAssertEqual(got.message, expected.message, "command \(offset): \(command)")
            default:
                XCTFail("command \(offset): \(command): RocksDB answered \(real), the simulation \(simulated)")
            }
        }
        XCTAssertEqual(memory.leaseRecords, try storage.stateMachine.leases())
        XCTAssertEqual(memory.revision, storage.stateMachine.revision)
        // The image carries the leases and the keys' attachments.
        XCTAssertEqual(MemoryKV(decoding: memory.encoded()), memory)
    }
}
