import Raft
import XCTest

@testable import KeelStorage
import KeelChecksum

final class EncodingTests: XCTestCase {
    func testALogSegmentIsStoredInTheDocumentedLayout() throws {
        // [version 1][count u32][per entry: term u64, index u64, kind u8, length u32, data][crc32c u32],
        // all big-endian. Data already on disk must keep decoding, so the bytes are pinned here as
        // computed outside Swift (Python's struct.pack and a bitwise CRC-32C).
        let entries = [
            Entry(term: Term(3), index: LogIndex(7), kind: .normal, data: bytes("payload")),
            Entry(term: Term(4), index: LogIndex(8), kind: .confChange, data: []),
        ]
        let expected = hexBytes(
            "01" + "00000002"
                + "0000000000000003" + "0000000000000007" + "00" + "00000007" + "7061796c6f6164"
                + "0000000000000004" + "0000000000000008" + "01" + "00000000"
                + "e6cdd771")
        let encoded = LogSegmentCoding.encode(entries[...])
        XCTAssertEqual(encoded, expected)
        XCTAssertEqual(encoded.count, 1 + 4 + entries.count * LogSegmentCoding.entryOverheadBytes + 7 + 4)
        XCTAssertEqual(try LogSegmentCoding.decode(encoded, first: LogIndex(7)), entries)
    }

    private func hexBytes(_ hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            result.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return result
    }

    func testEveryBitFlipInAnEntryRecordIsDetected() throws {
        let entry = Entry(term: Term(3), index: LogIndex(7), kind: .normal, data: bytes("payload"))
        let encoded = RaftCoding.encode(entry)
        XCTAssertEqual(try RaftCoding.decodeEntry(encoded, what: "entry"), entry)
        for bit in 0..<(encoded.count * 8) {
            var damaged = encoded
            damaged[bit / 8] ^= UInt8(1) << UInt8(bit % 8)
            XCTAssertThrowsError(try RaftCoding.decodeEntry(damaged, what: "raft log entry 7"), "bit \(bit)") { error in
                let storageError = error as? StorageError
                XCTAssertTrue([StorageError.Code.corruption, .unsupportedVersion].contains(storageError?.code))
                XCTAssertTrue(storageError?.message.hasPrefix("raft log entry 7") == true)
            }
        }
        assertStorageError(.corruption) { try RaftCoding.decodeEntry(Array(encoded.dropLast()), what: "entry") }
    }

    func testRaftValuesRoundTrip() throws {
        let conf = ConfState(voters: [NodeID(1), NodeID(2)], learners: [NodeID(3)], votersOutgoing: [NodeID(4)], learnersNext: [NodeID(5)], autoLeave: true)
        XCTAssertEqual(try RaftCoding.decodeConfState(RaftCoding.encode(conf)), conf)
        let hard = HardState(term: Term(9), vote: NodeID(2), commit: LogIndex(40))
        XCTAssertEqual(try RaftCoding.decodeHardState(RaftCoding.encode(hard)), hard)
        let metadata = SnapshotMetadata(index: LogIndex(10), term: Term(2), confState: conf)
        XCTAssertEqual(try RaftCoding.decodeSnapshotMetadata(RaftCoding.encode(metadata)), metadata)
    }

    func testCommandsRoundTripIncludingNestedTransactions() throws {
        let inner = TxnRequest(
            compare: [Compare(key: bytes("a"), target: .lease(4), result: .notEqual)],
            success: [.deleteRange(DeleteRangeRequest(key: bytes("a"), rangeEnd: bytes("b"), prevKv: true))],
            failure: [.range(RangeRequest(key: bytes("z"), limit: 3, revision: 2, sortOrder: .descend, sortTarget: .mod, keysOnly: true))])
        let commands: [KVCommand] = [
            .put(PutRequest(key: bytes("k"), value: bytes("v"), lease: 5, prevKv: true, ignoreValue: false, ignoreLease: true)),
            .range(RangeRequest(key: bytes("a"), rangeEnd: [0], countOnly: true)),
            .deleteRange(DeleteRangeRequest(key: bytes("x"))),
            .txn(TxnRequest(
                compare: [
                    Compare(key: bytes("a"), target: .value(bytes("1")), result: .equal),
                    Compare(key: bytes("a"), rangeEnd: bytes("c"), target: .version(2), result: .greater),
                    Compare(key: bytes("b"), target: .create(1), result: .less),
                    Compare(key: bytes("b"), target: .mod(1), result: .equal),
                ],
                success: [.put(PutRequest(key: bytes("a"), value: bytes("2"))), .txn(inner)],
                failure: [])),
            .compact(revision: 12), .leaseGrant(id: 7, ttlSeconds: 30), .leaseRevoke(id: 7),
            .leaseCheckpoint([LeaseCheckpoint(id: 7, remainingMilliseconds: 1500), LeaseCheckpoint(id: 8, remainingMilliseconds: nil)]),
            .leaseCheckpoint([]),
        ]
        for command in commands {
            XCTAssertEqual(try KVCommand(decoding: command.encoded()), command)
        }
    }

    func testAnUnknownFormatVersionIsRefusedByName() throws {
        var encoded = KVCommand.compact(revision: 1).encoded()
        encoded[0] = 9
        // Re-seal so only the version is wrong, as a newer build's command would be.
        let resealed = Array(encoded.dropLast(4)) + bigEndianBytes(CRC32C.checksum(encoded.dropLast(4)))
        let error = assertStorageError(.unsupportedVersion) { try KVCommand(decoding: resealed) }
        XCTAssertTrue(error?.message.contains("version 9") == true)
    }

    private func bigEndianBytes(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }
}
