/// The search's two hash tables, on integers only: the cache of configurations entered and the memo of
/// the model's transitions. Both use open addressing with linear probing at a load of at most one half,
/// and grow only when the search says so (`needsGrowth`, `growthBytes`, `grow()`), so that the search
/// can charge the memory to its budget first and stop with `unknown` instead of allocating past it.

/// The state ids the model's states are interned as; the cache and the memo store these, not states.
typealias StateID = Int32

/// Fibonacci hashing: spreads `hash` and keeps its top `64 - shift` bits as a slot number.
@inline(__always)
private func slot(_ hash: UInt64, shift: UInt64) -> Int {
    Int(truncatingIfNeeded: (hash &* 0x9E37_79B9_7F4A_7C15) >> shift)
}

/// Every configuration (set of linearized operations, state) the search has entered, exactly.
///
/// A slot holds the configuration's hash (the bitset's Zobrist fingerprint mixed with the state id;
/// 0 marks an empty slot), the state id, and where in `arena` the bitset's window is: a header word
/// (window start << 32 | window length) and the window's words (see `Bitset.window()`).
struct ConfigurationCache {
    static let initialSlotsCount = 1 << 10
    /// Bytes one slot costs: hash, state id, arena offset.
    static let slotBytes = MemoryLayout<UInt64>.stride + MemoryLayout<StateID>.stride + MemoryLayout<UInt32>.stride

    private var hashes: [UInt64]
    private var states: [StateID]
    private var offsets: [UInt32]
    private var arena: [UInt64] = []
    private var shift: UInt64
    /// Invariant: `count * 2 <= hashes.count`.
    private(set) var count = 0

    init() {
        hashes = Array(repeating: 0, count: Self.initialSlotsCount)
        states = Array(repeating: 0, count: Self.initialSlotsCount)
        offsets = Array(repeating: 0, count: Self.initialSlotsCount)
        shift = UInt64(64 - Self.initialSlotsCount.trailingZeroBitCount)
        arena.reserveCapacity(Self.initialSlotsCount)
    }

    /// Bytes held now (slots, and the arena's capacity).
    var bytes: Int { hashes.count * Self.slotBytes + arena.capacity * MemoryLayout<UInt64>.stride }

    /// True if one more entry needs the slots to grow first.
    var needsGrowth: Bool { (count + 1) * 2 > hashes.count }
    /// What `grow()` adds to `bytes`.
    var growthBytes: Int { hashes.count * Self.slotBytes }

    /// Doubles the slots.
    mutating func grow() {
        let oldHashes = hashes
        let oldStates = states
        let oldOffsets = offsets
        let slotsCount = hashes.count * 2
        hashes = Array(repeating: 0, count: slotsCount)
        states = Array(repeating: 0, count: slotsCount)
        offsets = Array(repeating: 0, count: slotsCount)
        shift -= 1
        for old in oldHashes.indices where oldHashes[old] != 0 {
            var index = slot(oldHashes[old], shift: shift)
            while hashes[index] != 0 { index = (index + 1) & (slotsCount - 1) }
            hashes[index] = oldHashes[old]
            states[index] = oldStates[old]
            offsets[index] = oldOffsets[old]
        }
    }

    /// What storing `set` adds to the arena's capacity, if it has to grow (0 if it has room).
    func arenaGrowthBytes(for set: Bitset) -> Int {
        let needed = arena.count + 1 + set.words.count
        return needed <= arena.capacity ? 0 : max(arena.capacity, needed - arena.capacity) * MemoryLayout<UInt64>.stride
    }

    private static func hash(_ set: Bitset, _ state: StateID) -> UInt64 {
        let mixed = set.fingerprint ^ (UInt64(UInt32(bitPattern: state)) &* 0xD6E8_FEB8_6659_FD93)
        return mixed == 0 ? 1 : mixed
    }

    /// Adds (set, state) and returns true, or returns false if it was already there.
    /// The caller makes room first: `needsGrowth` must be false and the arena is charged beforehand.
    mutating func insert(_ set: Bitset, _ state: StateID) -> Bool {
        precondition(!needsGrowth, "the cache must grow before it takes another entry")
        let hash = Self.hash(set, state)
        let mask = hashes.count - 1
        var index = slot(hash, shift: shift)
        while hashes[index] != 0 {
            if hashes[index] == hash && states[index] == state && stores(set, at: Int(offsets[index])) { return false }
            index = (index + 1) & mask
        }
        let window = set.window()
        precondition(arena.count < Int(UInt32.max), "the cache arena outgrew its 32-bit offsets")
        hashes[index] = hash
        states[index] = state
        offsets[index] = UInt32(arena.count)
        if arena.count + 1 + window.count > arena.capacity {
            arena.reserveCapacity(max(arena.capacity * 2, arena.count + 1 + window.count))
        }
        arena.append(UInt64(window.lowerBound) << 32 | UInt64(window.count))
        arena.append(contentsOf: set.words[window])
        count += 1
        return true
    }

    /// True if (set, state) is in the cache.
    func contains(_ set: Bitset, _ state: StateID) -> Bool {
        let hash = Self.hash(set, state)
        let mask = hashes.count - 1
        var index = slot(hash, shift: shift)
        while hashes[index] != 0 {
            if hashes[index] == hash && states[index] == state && stores(set, at: Int(offsets[index])) { return true }
            index = (index + 1) & mask
        }
        return false
    }

    private func stores(_ set: Bitset, at offset: Int) -> Bool {
        let header = arena[offset]
        let start = Int(header >> 32)
        let length = Int(header & 0xFFFF_FFFF)
        return arena.withUnsafeBufferPointer { words in
            set.matches(window: start..<start + length, UnsafeBufferPointer(rebasing: words[offset + 1..<offset + 1 + length]))
        }
    }
}

/// The model's transitions on interned states, each computed once: (state id, operation index) to
/// the list of state ids the operation may lead to (empty when it is illegal).
///
/// Lists live in `pool` as a length followed by the ids. Where a list starts is found in a dense table,
/// one row of operations per state, for the first states (most models have few: a register has one per
/// value written), and in a hash table for the rest: a slot holds the key (state << 32 | operation, all
/// ones when empty) and the list's offset in the pool.
struct TransitionMemo {
    static let initialSlotsCount = 1 << 8
    /// The dense table's size limit, in entries; it has as many rows as fit.
    static let denseEntriesMax = 1 << 16
    static let slotBytes = MemoryLayout<UInt64>.stride + MemoryLayout<Int32>.stride
    private static let empty = UInt64.max

    private let operationsCount: Int
    /// Pool offsets by `state * operationsCount + operation`, -1 when not computed yet.
    private var dense: [Int32] = []
    /// States below this have a row in `dense` (once a transition from them is stored).
    private let denseRowsMax: Int
    private var keys: [UInt64]
    private var offsets: [Int32]
    private(set) var pool: [StateID] = []
    private var shift: UInt64
    /// Invariant: `count * 2 <= keys.count` (entries in the hash table only).
    private(set) var count = 0

    init(operationsCount: Int) {
        self.operationsCount = operationsCount
        denseRowsMax = Self.denseEntriesMax / max(1, operationsCount)
        keys = Array(repeating: Self.empty, count: Self.initialSlotsCount)
        offsets = Array(repeating: 0, count: Self.initialSlotsCount)
        shift = UInt64(64 - Self.initialSlotsCount.trailingZeroBitCount)
    }

    var bytes: Int {
        keys.count * Self.slotBytes + pool.capacity * MemoryLayout<StateID>.stride
            + dense.capacity * MemoryLayout<Int32>.stride
    }
    var needsGrowth: Bool { (count + 1) * 2 > keys.count }
    var growthBytes: Int { keys.count * Self.slotBytes }

    private static func key(_ state: StateID, _ operation: Int) -> UInt64 {
        UInt64(UInt32(bitPattern: state)) << 32 | UInt64(UInt32(truncatingIfNeeded: operation))
    }

    /// The pool offset of the list for (state, operation), or nil if not computed yet.
    @inline(__always)
    func lookup(_ state: StateID, _ operation: Int) -> Int? {
        precondition(operation >= 0 && operation < operationsCount, "operation out of range")
        if Int(state) < denseRowsMax {
            let index = Int(state) * operationsCount + operation
            guard index < dense.count else { return nil }
            let offset = dense[index]
            return offset < 0 ? nil : Int(offset)
        }
        let key = Self.key(state, operation)
        let mask = keys.count - 1
        var index = slot(key, shift: shift)
        while keys[index] != Self.empty {
            if keys[index] == key { return Int(offsets[index]) }
            index = (index + 1) & mask
        }
        return nil
    }

    /// Stores the list for (state, operation) and returns its pool offset. `needsGrowth` must be false.
    mutating func store(_ state: StateID, _ operation: Int, _ successors: [StateID]) -> Int {
        precondition(pool.count < Int(Int32.max), "the transition pool outgrew its 32-bit offsets")
        precondition(operation >= 0 && operation < operationsCount, "operation out of range")
        if Int(state) < denseRowsMax {
            let index = Int(state) * operationsCount + operation
            if index >= dense.count {
                dense.append(contentsOf: repeatElement(-1, count: (Int(state) + 1) * operationsCount - dense.count))
            }
            precondition(dense[index] < 0, "transition stored twice")
            let offset = pool.count
            dense[index] = Int32(offset)
            pool.append(StateID(successors.count))
            pool.append(contentsOf: successors)
            return offset
        }
        precondition(!needsGrowth, "the memo must grow before it takes another entry")
        let key = Self.key(state, operation)
        let mask = keys.count - 1
        var index = slot(key, shift: shift)
        while keys[index] != Self.empty {
            precondition(keys[index] != key, "transition stored twice")
            index = (index + 1) & mask
        }
        let offset = pool.count
        keys[index] = key
        offsets[index] = Int32(offset)
        pool.append(StateID(successors.count))
        pool.append(contentsOf: successors)
        count += 1
        return offset
    }

    mutating func grow() {
        let oldKeys = keys
        let oldOffsets = offsets
        let slotsCount = keys.count * 2
        keys = Array(repeating: Self.empty, count: slotsCount)
        offsets = Array(repeating: 0, count: slotsCount)
        shift -= 1
        for old in oldKeys.indices where oldKeys[old] != Self.empty {
            var index = slot(oldKeys[old], shift: shift)
            while keys[index] != Self.empty { index = (index + 1) & (slotsCount - 1) }
            keys[index] = oldKeys[old]
            offsets[index] = oldOffsets[old]
        }
    }
}
