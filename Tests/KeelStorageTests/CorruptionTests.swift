import Foundation
import Raft
import XCTest

@testable import KeelStorage

/// Damaged files on disk must surface as a clear error on open or read, never a crash or a silent
/// skip. Each test prints the message a user would see.
final class CorruptionTests: XCTestCase {
    private func files(in directory: String, suffix: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(suffix) }.sorted()
            .map { directory + "/" + $0 }
    }

    /// The store's largest SST file, after checking how many there are.
    private func largestSST(in directory: String, count expected: Int? = nil, _ why: String = "") throws -> String {
        let ssts = try files(in: directory, suffix: ".sst")
        if let expected { XCTAssertEqual(ssts.count, expected, why) }
        return try XCTUnwrap(ssts.max { lhs, rhs in
            ((try? FileManager.default.attributesOfItem(atPath: lhs)[.size] as? Int) ?? 0)
                < ((try? FileManager.default.attributesOfItem(atPath: rhs)[.size] as? Int) ?? 0)
        })
    }

    private func writeLog(_ directory: String, entries count: UInt64, flush: Bool) throws {
        let storage = try NodeStorage(directory: directory)
        let entries = (1...count).map { Entry(term: Term(1), index: LogIndex($0), data: [UInt8](repeating: UInt8($0 % 256), count: 200)) }
        try storage.log.append(entries)
        if flush { try storage.flush() }
    }

    private func flipByte(_ path: String, at fraction: Double) throws {
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        let offset = UInt64(Double(size) * fraction)
        try handle.seek(toOffset: offset)
        var byte = try XCTUnwrap(handle.readData(ofLength: 1).first)
        byte ^= 0x5A
        try handle.seek(toOffset: offset)
        try handle.write(contentsOf: Data([byte]))
    }

    private func truncate(_ path: String, by fraction: Double) throws {
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        try handle.truncate(atOffset: UInt64(Double(size) * (1 - fraction)))
    }

    func testTruncatedSSTFileIsReportedOnOpen() throws {
        let directory = makeTemporaryDirectory(self)
        try writeLog(directory, entries: 500, flush: true)
        // The log's 500 entries, and the key-value meta's revision base, written when the store was created.
        let logSST = try largestSST(in: directory, count: 2, "the log column family and the key-value meta hold data")
        try truncate(logSST, by: 0.3)
        let error = assertStorageError(.corruption) { try NodeStorage(directory: directory) }
        print("open with a truncated SST file: \(error.map(String.init(describing:)) ?? "")")
        XCTAssertTrue(error?.message.contains(".sst") == true)
    }

    func testBitFlipInAnSSTDataBlockIsReportedOnOpen() throws {
        let directory = makeTemporaryDirectory(self)
        try writeLog(directory, entries: 500, flush: true)
        let logSST = try largestSST(in: directory, count: 2, "the log column family and the key-value meta hold data")
        try flipByte(logSST, at: 0.25)
        let error = assertStorageError(.corruption) { try NodeStorage(directory: directory) }
        print("open with a bit flip in an SST data block: \(error.map(String.init(describing:)) ?? "")")
        XCTAssertTrue(error?.message.contains("checksum mismatch") == true)
    }

    func testBitFlipInAnSSTIsReportedWhenAStateMachineValueIsRead() throws {
        let directory = makeTemporaryDirectory(self)
        do {
            let storage = try NodeStorage(directory: directory)
            for index in 1...300 as ClosedRange<UInt64> {
                let put = KVCommand.put(PutRequest(key: bytes("key\(index)"), value: [UInt8](repeating: 7, count: 100)))
                try storage.stateMachine.apply(index: LogIndex(index), entryData: put.encoded())
            }
            try storage.flush()
        }
        // The largest SST holds kv_key (keys and values).
        let largest = try largestSST(in: directory)
        try flipByte(largest, at: 0.3)
        let storage = try NodeStorage(directory: directory)
        let error = assertStorageError(.corruption) { try storage.stateMachine.range(RangeRequest(key: [0], rangeEnd: [0])) }
        print("range over a bit-flipped SST: \(error.map(String.init(describing:)) ?? "")")
    }

    func testBitFlipInTheMiddleOfTheWALIsReportedOnOpen() throws {
        let directory = makeTemporaryDirectory(self)
        try writeLog(directory, entries: 500, flush: false)
        let wals = try files(in: directory, suffix: ".log")
        XCTAssertFalse(wals.isEmpty)
        let largest = try XCTUnwrap(wals.last)
        try flipByte(largest, at: 0.4)
        let error = assertStorageError(.corruption) { try NodeStorage(directory: directory) }
        print("open with a bit flip in the WAL: \(error.map(String.init(describing:)) ?? "")")
    }

    func testTruncatedWALTailDropsOnlyTheUnfinishedWrite() throws {
        let directory = makeTemporaryDirectory(self)
        do {
            let storage = try NodeStorage(directory: directory)
            for index in 1...20 as ClosedRange<UInt64> {
                try storage.log.append([Entry(term: Term(1), index: LogIndex(index), data: [UInt8](repeating: 1, count: 300))])
            }
        }
        let wal = try XCTUnwrap(try files(in: directory, suffix: ".log").last)
        // Cut into the last record, as a crash in the middle of writing it would.
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: wal))
        let size = try handle.seekToEnd()
        try handle.truncate(atOffset: size - 100)
        try handle.close()
        let storage = try NodeStorage(directory: directory)
        XCTAssertEqual(storage.log.lastIndex, LogIndex(19), "every complete append survives; the torn one is dropped")
        XCTAssertEqual(try storage.log.entries(from: LogIndex(1), to: LogIndex(20)).count, 19)
    }
}
