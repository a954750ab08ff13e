/// A fixed-size set of operation numbers: the "which operations are linearized" half of a cache key.
///
/// Hashing must not cost O(size) per search step on long histories, so the set keeps a Zobrist
/// fingerprint: the XOR of a fixed pseudo-random word per member, updated in O(1) by `insert` and
/// `remove`. The fingerprint only picks the cache slot; equality compares the words, so collisions
/// cannot merge two different sets.
///
/// For the cache the set is stored as a window (see `window()`): on long histories almost every early
/// operation is linearized and almost every late one is not, so only a short run of words differs
/// between configurations.
struct Bitset: Equatable {
    private(set) var words: [UInt64]
    /// Invariant: the XOR of `Bitset.key(bit)` over every member.
    private(set) var fingerprint: UInt64 = 0

    init(count: Int) {
        precondition(count >= 0, "negative bitset size")
        words = Array(repeating: 0, count: (count + 63) / 64)
    }

    /// A well-mixed word for `bit` (SplitMix64's finaliser), so fingerprints of nearby sets differ widely.
    static func key(_ bit: Int) -> UInt64 {
        var z = UInt64(bit) &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func insert(_ bit: Int) {
        let mask: UInt64 = 1 << UInt64(bit & 63)
        precondition(words[bit >> 6] & mask == 0, "operation \(bit) linearized twice")
        words[bit >> 6] |= mask
        fingerprint ^= Self.key(bit)
    }

    mutating func remove(_ bit: Int) {
        let mask: UInt64 = 1 << UInt64(bit & 63)
        precondition(words[bit >> 6] & mask != 0, "operation \(bit) removed but not linearized")
        words[bit >> 6] &= ~mask
        fingerprint ^= Self.key(bit)
    }

    func contains(_ bit: Int) -> Bool {
        words[bit >> 6] & (1 << UInt64(bit & 63)) != 0
    }

    /// The words that say something: those before `lowerBound` are all ones and those from
    /// `upperBound` on are all zero, so the set is determined by the range and the words inside it.
    func window() -> Range<Int> {
        var low = 0
        while low < words.count && words[low] == UInt64.max { low += 1 }
        var high = words.count
        while high > low && words[high - 1] == 0 { high -= 1 }
        return low..<high
    }

    /// True if this set is the one whose window `range` holds `stored` (as `window()` gave it).
    func matches(window range: Range<Int>, _ stored: UnsafeBufferPointer<UInt64>) -> Bool {
        precondition(stored.count == range.count, "window and stored words disagree in length")
        guard range.upperBound <= words.count else { return false }
        return words.withUnsafeBufferPointer { mine in
            for index in 0..<range.lowerBound where mine[index] != UInt64.max { return false }
            for index in range where mine[index] != stored[index - range.lowerBound] { return false }
            for index in range.upperBound..<mine.count where mine[index] != 0 { return false }
            return true
        }
    }

    static func == (lhs: Bitset, rhs: Bitset) -> Bool {
        lhs.fingerprint == rhs.fingerprint && lhs.words == rhs.words
    }
}
