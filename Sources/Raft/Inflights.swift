/// A bounded window of append messages sent to one follower and not yet acknowledged: a ring of
/// the last index each message carried. When it is full the leader stops sending entries to that
/// follower until acknowledgements free slots (flow control, like etcd's inflights).
struct Inflights: Sendable {
    /// Capacity: `inflightMessagesMax`.
    let capacity: Int
    private var buffer: [LogIndex]
    private var start = 0
    /// Invariant: 0 <= count <= capacity.
    private(set) var count = 0

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        buffer = []
    }

    var isFull: Bool { count == capacity }

    /// Records a message whose last entry is `index`. Indexes must increase.
    mutating func add(_ index: LogIndex) {
        precondition(!isFull, "inflight window overflow")
        if buffer.isEmpty { buffer = Array(repeating: .zero, count: capacity) }
        if count > 0 {
            precondition(index > buffer[(start + count - 1) % capacity], "inflight indexes must increase")
        }
        buffer[(start + count) % capacity] = index
        count += 1
    }

    /// Frees every message whose last index is at or below `index` (acknowledged).
    mutating func freeLE(_ index: LogIndex) {
        while count > 0 && buffer[start] <= index {
            start = (start + 1) % capacity
            count -= 1
        }
        if count == 0 { start = 0 }
    }

    /// Frees the oldest message (its acknowledgement may have been lost).
    mutating func freeFirst() {
        guard count > 0 else { return }
        start = (start + 1) % capacity
        count -= 1
        if count == 0 { start = 0 }
    }

    mutating func reset() {
        start = 0
        count = 0
    }
}
