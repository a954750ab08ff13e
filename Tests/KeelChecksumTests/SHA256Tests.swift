import KeelChecksum
import XCTest

/// SHA-256 against the FIPS 180-4 examples and Python's hashlib, fed whole and in odd pieces.
final class SHA256Tests: XCTestCase {
    private func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    private func digest(_ bytes: [UInt8], pieces: Int = 1) -> String {
        var sha = SHA256()
        let size = max(1, bytes.count / pieces)
        var start = 0
        while start < bytes.count {
            sha.update(bytes[start..<min(bytes.count, start + size)])
            start += size
        }
        return hex(sha.finalize())
    }

    func testKnownDigests() {
        XCTAssertEqual(digest([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(digest(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let twoBlocks = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        XCTAssertEqual(digest(twoBlocks), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        for pieces in [1, 7, 1000] {
            XCTAssertEqual(digest(million, pieces: pieces), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", "\(pieces) pieces")
        }
    }
}
