import Synchronization

/// The bytes that the partition searches of one check may hold together. A search takes memory before
/// its tables grow and stops with `unknown` when there is none left, so a hard history ends in an
/// answer instead of the process running out of memory.
final class MemoryBudget: Sendable {
    /// The most bytes the searches may hold at once.
    let limitBytes: Int
    /// Invariant: `0 <= used <= limitBytes` between calls.
    private let used = Atomic<Int>(0)

    init(limitBytes: Int) {
        precondition(limitBytes > 0, "a memory budget needs a positive limit")
        self.limitBytes = limitBytes
    }

    /// Takes `bytes` if they fit, and says whether they did.
    func reserve(_ bytes: Int) -> Bool {
        precondition(bytes >= 0, "negative reservation")
        var current = used.load(ordering: .relaxed)
        while true {
            guard current + bytes <= limitBytes else { return false }
            let (exchanged, original) = used.compareExchange(
                expected: current, desired: current + bytes, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    /// Gives back `bytes` taken earlier.
    func release(_ bytes: Int) {
        let before = used.subtract(bytes, ordering: .relaxed).oldValue
        precondition(before >= bytes, "released more than was reserved")
    }

    /// Bytes held now.
    var usedBytes: Int { used.load(ordering: .relaxed) }
}
