// The simulator's only source of randomness: xoshiro256** seeded through SplitMix64, so a seed
// replays bit-for-bit in any process (no global generator, no hashing order involved).

/// A seeded pseudo-random generator (xoshiro256**). Deterministic across processes and platforms.
public struct SimRandom: RandomNumberGenerator, Sendable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    /// Expands `seed` into the 256-bit state with SplitMix64 (the seeding its authors recommend).
    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix()
        s1 = splitMix()
        s2 = splitMix()
        s3 = splitMix()
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// A value in `0..<bound` (multiply-shift; the tiny bias is irrelevant for fault injection and
    /// keeps the sequence independent of the standard library's algorithm).
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0)
        return Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// A value in `range`.
    public mutating func between(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + below(range.count)
    }

    /// True with probability `permille / 1000`.
    public mutating func chance(permille: Int) -> Bool {
        below(1000) < permille
    }

    /// An independent generator for a sub-stream (one per node incarnation, say).
    public mutating func fork() -> SimRandom {
        SimRandom(seed: next())
    }
}
