import XCTest

@testable import JepsenChecker

/// The cache key must identify a set of linearized operations exactly, whatever its compact form.
final class BitsetTests: XCTestCase {
    func testSnapshotsOfEqualSetsAreEqualWhateverTheInsertionOrder() {
        var forward = Bitset(count: 200)
        var backward = Bitset(count: 200)
        for bit in 0..<70 { forward.insert(bit) }
        forward.insert(150)
        backward.insert(150)
        for bit in (0..<70).reversed() { backward.insert(bit) }
        XCTAssertEqual(forward, backward)
        XCTAssertEqual(forward.snapshot(), backward.snapshot())
        XCTAssertEqual(forward.snapshot().fullWords, 1, "the first 64 bits are all set and elided")
        XCTAssertEqual(forward.snapshot().window.count, 2, "words 1 and 2 differ from all-ones; word 3 is zero")
    }

    func testSnapshotsOfDifferentSetsDiffer() {
        var a = Bitset(count: 200)
        var b = Bitset(count: 200)
        for bit in 0..<64 { a.insert(bit) }
        for bit in 0..<63 { b.insert(bit) }
        b.insert(64)
        XCTAssertNotEqual(a.snapshot(), b.snapshot())
        b.remove(64)
        b.insert(63)
        XCTAssertEqual(a.snapshot(), b.snapshot(), "removing restores the fingerprint")
        XCTAssertTrue(b.contains(63))
        XCTAssertFalse(b.contains(64))
    }
}
