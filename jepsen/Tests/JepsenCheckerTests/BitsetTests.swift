import XCTest

@testable import JepsenChecker

/// The cache key must identify a set of linearized operations exactly, whatever its compact form.
final class BitsetTests: XCTestCase {
    func testWindowsOfEqualSetsAreEqualWhateverTheInsertionOrder() {
        var forward = Bitset(count: 200)
        var backward = Bitset(count: 200)
        for bit in 0..<70 { forward.insert(bit) }
        forward.insert(150)
        backward.insert(150)
        for bit in (0..<70).reversed() { backward.insert(bit) }
        XCTAssertEqual(forward, backward)
        XCTAssertEqual(forward.fingerprint, backward.fingerprint)
        XCTAssertEqual(forward.window(), 1..<3, "the first 64 bits are all set and elided; word 3 is zero")
        XCTAssertEqual(backward.window(), 1..<3)
    }

    func testFingerprintFollowsInsertAndRemove() {
        var a = Bitset(count: 200)
        var b = Bitset(count: 200)
        for bit in 0..<64 { a.insert(bit) }
        for bit in 0..<63 { b.insert(bit) }
        b.insert(64)
        XCTAssertNotEqual(a, b)
        XCTAssertNotEqual(a.fingerprint, b.fingerprint)
        b.remove(64)
        b.insert(63)
        XCTAssertEqual(a, b, "removing restores the set")
        XCTAssertEqual(a.fingerprint, b.fingerprint, "and the fingerprint")
        XCTAssertTrue(b.contains(63))
        XCTAssertFalse(b.contains(64))
    }

    func testMatchesComparesTheWholeSetNotJustTheWindow() {
        var stored = Bitset(count: 192)
        for bit in 0..<64 { stored.insert(bit) }
        stored.insert(70)
        let window = stored.window()
        let words = Array(stored.words[window])
        words.withUnsafeBufferPointer { buffer in
            XCTAssertTrue(stored.matches(window: window, buffer))
            var extraLate = stored
            extraLate.insert(130)
            XCTAssertFalse(extraLate.matches(window: window, buffer), "a bit after the window")
            var missingEarly = stored
            missingEarly.remove(3)
            XCTAssertFalse(missingEarly.matches(window: window, buffer), "a hole before the window")
        }
    }
}

/// The configuration cache is a set: exact, whatever the hash does, and it keeps everything it grows over.
final class ConfigurationCacheTests: XCTestCase {
    func testInsertIsExactAcrossGrowth() {
        var cache = ConfigurationCache()
        var sets: [Bitset] = []
        var set = Bitset(count: 300)
        for bit in 0..<300 {
            set.insert(bit)
            sets.append(set)
        }
        for (index, set) in sets.enumerated() {
            for state in StateID(0)..<4 {
                if cache.needsGrowth { cache.grow() }
                XCTAssertTrue(cache.insert(set, state), "set \(index) state \(state) is new")
            }
        }
        XCTAssertEqual(cache.count, 1200)
        for (index, set) in sets.enumerated() {
            XCTAssertTrue(cache.contains(set, 3), "set \(index)")
            XCTAssertFalse(cache.contains(set, 4), "state 4 was never stored")
            if cache.needsGrowth { cache.grow() }
            XCTAssertFalse(cache.insert(set, 0), "set \(index) is already there")
        }
        XCTAssertFalse(cache.contains(Bitset(count: 300), 0), "the empty set was never stored")
    }

    func testTransitionMemoKeepsEachListAcrossGrowth() {
        var memo = TransitionMemo(operationsCount: 20)
        XCTAssertEqual(TransitionMemo.denseEntriesMax / 20, 3276, "states past this use the hash table")
        for state in [StateID](0..<50) + (5000..<5050) {
            for operation in 0..<20 {
                if memo.needsGrowth { memo.grow() }
                _ = memo.store(state, operation, Array(repeating: state, count: operation % 3))
            }
        }
        for state in [StateID](0..<50) + (5000..<5050) {
            for operation in 0..<20 {
                let offset = try! XCTUnwrap(memo.lookup(state, operation))
                XCTAssertEqual(Int(memo.pool[offset]), operation % 3)
                for index in 0..<operation % 3 { XCTAssertEqual(memo.pool[offset + 1 + index], state) }
            }
        }
        XCTAssertNil(memo.lookup(50, 0))
        XCTAssertNil(memo.lookup(5050, 0))
    }
}
