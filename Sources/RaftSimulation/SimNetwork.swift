// The simulated network: messages in flight ordered by delivery time (random delays reorder
// them), plus the directed links that partitions cut. Drops and duplicates are decided by the
// simulation when a message is sent.

import Raft

/// A message on the wire, due at `deliverAt`. `sequence` breaks ties in send order so the
/// delivery order never depends on anything but the seed.
struct InFlight {
    var deliverAt: Int
    var sequence: UInt64
    var message: Message
}

/// A binary min-heap of in-flight messages keyed by (deliverAt, sequence).
struct SimNetwork {
    private(set) var heap: [InFlight] = []
    private var nextSequence: UInt64 = 0
    /// Directed links that drop everything: `cut[from * width + to]`.
    private var cut: [Bool]
    /// One more than the largest node id.
    let width: Int

    init(maxNodeID: Int) {
        width = maxNodeID + 1
        cut = Array(repeating: false, count: width * width)
    }

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }
    var nextDeliveryAt: Int? { heap.first?.deliverAt }

    func isCut(from: NodeID, to: NodeID) -> Bool {
        cut[Int(from.rawValue) * width + Int(to.rawValue)]
    }

    mutating func setCut(from: NodeID, to: NodeID, _ value: Bool) {
        cut[Int(from.rawValue) * width + Int(to.rawValue)] = value
    }

    mutating func healAll() {
        for i in cut.indices { cut[i] = false }
    }

    var hasPartition: Bool { cut.contains(true) }

    mutating func push(_ message: Message, at deliverAt: Int) {
        heap.append(InFlight(deliverAt: deliverAt, sequence: nextSequence, message: message))
        nextSequence += 1
        siftUp(heap.count - 1)
    }

    /// Removes and returns the earliest message due at or before `now`.
    mutating func popDue(now: Int) -> InFlight? {
        guard let first = heap.first, first.deliverAt <= now else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
        return first
    }

    private func less(_ a: InFlight, _ b: InFlight) -> Bool {
        a.deliverAt != b.deliverAt ? a.deliverAt < b.deliverAt : a.sequence < b.sequence
    }

    private mutating func siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            guard less(heap[i], heap[parent]) else { return }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var m = i
            if l < heap.count && less(heap[l], heap[m]) { m = l }
            if r < heap.count && less(heap[r], heap[m]) { m = r }
            if m == i { return }
            heap.swapAt(i, m)
            i = m
        }
    }
}
