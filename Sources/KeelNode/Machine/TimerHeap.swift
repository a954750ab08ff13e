/// A min-heap of (time, lease id): the lessor's pending expiries and checkpoints. Entries are not
/// removed when a lease's time changes; a popped entry whose time no longer matches the lease's is
/// stale and skipped (the caller checks), and ``rebuild(from:)`` drops the stale ones when they
/// outnumber the live ones.
struct TimerHeap {
    private var items: [(time: Duration, id: Int64)] = []

    var count: Int { items.count }
    var first: (time: Duration, id: Int64)? { items.first }

    mutating func push(_ time: Duration, _ id: Int64) {
        items.append((time, id))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    mutating func popDue(_ now: Duration) -> (time: Duration, id: Int64)? {
        guard let top = items.first, top.time <= now else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < items.count, Self.precedes(items[left], items[smallest]) { smallest = left }
                if right < items.count, Self.precedes(items[right], items[smallest]) { smallest = right }
                if smallest == parent { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }

    /// Replaces the entries with `live`.
    mutating func rebuild(from live: [(time: Duration, id: Int64)]) {
        items = []
        items.reserveCapacity(live.count)
        for item in live { push(item.time, item.id) }
    }

    /// Ties broken by id, so the order is a function of the contents (determinism).
    private static func precedes(_ a: (time: Duration, id: Int64), _ b: (time: Duration, id: Int64)) -> Bool {
        a.time < b.time || (a.time == b.time && a.id < b.id)
    }
}
