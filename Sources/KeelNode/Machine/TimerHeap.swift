/// The lessor's pending expiries and checkpoints: (time, lease id), earliest first. Entries are not
/// removed when a lease's time changes; a popped entry whose time no longer matches the lease's is
/// stale and skipped (the caller checks), and ``rebuild(from:)`` drops the stale ones when they
/// outnumber the live ones.
struct TimerHeap {
    // Ties broken by id, so the order is a function of the contents (determinism).
    private var heap = MinHeap<(time: Duration, id: Int64)> { a, b in a.time < b.time || (a.time == b.time && a.id < b.id) }

    var count: Int { heap.count }
    var first: (time: Duration, id: Int64)? { heap.first }

    mutating func push(_ time: Duration, _ id: Int64) { heap.push((time, id)) }

    /// Removes and returns the earliest entry if it is due at `now`.
    mutating func popDue(_ now: Duration) -> (time: Duration, id: Int64)? {
        guard let top = heap.first, top.time <= now else { return nil }
        return heap.pop()
    }

    /// Replaces the entries with `live`.
    mutating func rebuild(from live: [(time: Duration, id: Int64)]) {
        heap.removeAll()
        for item in live { heap.push(item) }
    }
}
