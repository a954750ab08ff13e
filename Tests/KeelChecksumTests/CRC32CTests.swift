import Foundation
import KeelChecksum
import XCTest

final class CRC32CTests: XCTestCase {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Bytes that look random but are the same on every run, so a failure can be replayed.
    private func scrambled(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: (UInt64($0) &* 0x9E37_79B9_7F4A_7C15) >> 29) }
    }

    /// The definition, one bit at a time: what both fast paths must agree with.
    private func reference(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }

    func testMatchesTheStandardCheckValue() {
        // The check value of CRC-32C for "123456789" (RFC 3720, appendix B.4).
        XCTAssertEqual(CRC32C.checksum(bytes("123456789")), 0xE306_9283)
        XCTAssertEqual(CRC32C.update(CRC32C.checksum(bytes("1234")), bytes("56789")), 0xE306_9283)
        bytes("123456789").withUnsafeBytes { XCTAssertEqual(CRC32C.updateInSoftware(0, $0), 0xE306_9283) }
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
    }

    func testBothPathsAgreeWithTheBitwiseDefinitionAtEveryLengthAndAlignment() {
        let data = scrambled(300)
        for start in 0..<9 {
            for end in stride(from: start, through: data.count, by: 7) {
                let expected = reference(data[start..<end])
                XCTAssertEqual(CRC32C.checksum(data[start..<end]), expected, "\(start)..<\(end)")
                data[start..<end].withUnsafeBytes {
                    XCTAssertEqual(CRC32C.updateInSoftware(0, $0), expected, "software \(start)..<\(end)")
                }
            }
        }
    }

    func testBothPathsAgreeWhenExtendingLargeBuffersPieceByPiece() {
        let data = scrambled(70_000)
        let whole = reference(data[...])
        XCTAssertEqual(CRC32C.checksum(data), whole)
        data.withUnsafeBytes { XCTAssertEqual(CRC32C.updateInSoftware(0, $0), whole) }
        // Unaligned split points exercise the hardware path's byte steps in the middle of a stream.
        var running: UInt32 = 0
        var offset = 0
        for piece in [1, 3, 4_093, 8, 17, 65_000] {
            let end = min(offset + piece, data.count)
            running = CRC32C.update(running, data[offset..<end])
            offset = end
        }
        running = CRC32C.update(running, data[offset...])
        XCTAssertEqual(running, whole)
    }

    #if arch(x86_64) && os(Linux)
    func testUsesTheCPUInstructionWhereTheCPUHasOne() throws {
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flags = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") } ?? ""
        XCTAssertEqual(CRC32C.usesHardware, flags.split(separator: " ").contains("sse4_2"))
    }
    #endif
}
