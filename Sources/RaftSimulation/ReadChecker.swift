// The read property: a read served must return a state at least as new as every write that was
// acknowledged before the read began. With state machine safety checked separately, "as new" is
// the applied index of the state the read returned.

import Raft

/// Checks that reads are never stale with respect to acknowledged writes.
public struct ReadChecker {
    /// Every violation found, oldest first.
    public private(set) var violations: [Violation] = []
    /// The highest log index of any write acknowledged so far, and its value.
    public private(set) var ackedIndex: LogIndex = .zero
    private var ackedValue: UInt64 = 0

    /// A checker with no history.
    public init() {}

    /// A write of `value` landed at `index` and was reported to its client.
    public mutating func writeAcknowledged(value: UInt64, index: LogIndex) {
        if index > ackedIndex {
            ackedIndex = index
            ackedValue = value
        }
    }

    /// A read begins: returns what it must at least observe.
    public func readBegins() -> LogIndex { ackedIndex }

    /// A read that began when `required` was acknowledged was served by `node` from a state
    /// machine at `servedIndex`.
    public mutating func readServed(id: UInt64, node: NodeID, required: LogIndex, servedIndex: LogIndex) {
        if servedIndex < required {
            violations.append(Violation(
                .staleRead,
                "read \(id) on \(node) returned the state at \(servedIndex), but a write at \(required) was acknowledged before it began"
            ))
        }
    }
}
