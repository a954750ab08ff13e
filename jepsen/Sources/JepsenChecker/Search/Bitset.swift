/// A fixed-size set of operation numbers: the "which operations are linearized" half of a cache key.
///
/// Hashing combines the words directly; copies are copy-on-write, so storing one in the cache costs
/// a single array copy at the next mutation.
struct Bitset: Hashable {
    private var words: [UInt64]

    init(count: Int) {
        precondition(count >= 0, "negative bitset size")
        words = Array(repeating: 0, count: (count + 63) / 64)
    }

    mutating func insert(_ bit: Int) {
        words[bit >> 6] |= 1 << UInt64(bit & 63)
    }

    mutating func remove(_ bit: Int) {
        words[bit >> 6] &= ~(1 << UInt64(bit & 63))
    }

    func contains(_ bit: Int) -> Bool {
        words[bit >> 6] & (1 << UInt64(bit & 63)) != 0
    }

    func hash(into hasher: inout Hasher) {
        words.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
