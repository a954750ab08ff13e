/// A fixed-size set of operation numbers: the "which operations are linearized" half of a cache key.
///
/// Hashing must not cost O(size) per search step on long histories, so the set keeps a Zobrist
/// fingerprint: the XOR of a fixed pseudo-random word per member, updated in O(1) by `insert` and
/// `remove`. Equality still compares the words (after the fingerprints), so collisions cannot
/// merge two different sets. Copies are copy-on-write.
struct Bitset: Hashable {
    private var words: [UInt64]
    private var fingerprint: UInt64 = 0

    init(count: Int) {
        precondition(count >= 0, "negative bitset size")
        words = Array(repeating: 0, count: (count + 63) / 64)
    }

    /// A well-mixed word for `bit` (SplitMix64's finaliser), so fingerprints of nearby sets differ widely.
    private static func key(_ bit: Int) -> UInt64 {
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

    /// A compact copy for the search cache: leading all-ones words and trailing zero words are not
    /// stored, because on long histories almost every early operation is linearized and almost every
    /// late one is not, so only a short window of words differs between cache entries.
    func snapshot() -> BitsetSnapshot {
        var low = 0
        while low < words.count && words[low] == UInt64.max { low += 1 }
        var high = words.count
        while high > low && words[high - 1] == 0 { high -= 1 }
        return BitsetSnapshot(fullWords: low, fingerprint: fingerprint, window: Array(words[low..<high]))
    }

    static func == (lhs: Bitset, rhs: Bitset) -> Bool {
        lhs.fingerprint == rhs.fingerprint && lhs.words == rhs.words
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(fingerprint)
    }
}

/// A `Bitset` as stored in the search cache; see `Bitset.snapshot()`.
struct BitsetSnapshot: Hashable {
    let fullWords: Int
    let fingerprint: UInt64
    let window: [UInt64]

    static func == (lhs: BitsetSnapshot, rhs: BitsetSnapshot) -> Bool {
        lhs.fingerprint == rhs.fingerprint && lhs.fullWords == rhs.fullWords && lhs.window == rhs.window
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(fingerprint)
    }
}
