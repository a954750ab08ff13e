// Quorum arithmetic: majority and joint (thesis §4.3). Pure functions over sorted voter lists, so
// results never depend on Set iteration order.

/// The state of a vote count.
enum VoteResult: Sendable, Equatable {
    /// Not decided yet: missing answers could still swing it.
    case pending
    /// Cannot reach a quorum any more.
    case lost
    /// A quorum granted.
    case won
}

/// A simple majority configuration.
struct MajorityConfig: Sendable, Equatable {
    /// Invariant: sorted and free of duplicates.
    let ids: [NodeID]

    init(_ members: Set<NodeID>) {
        ids = members.sorted()
    }

    var isEmpty: Bool { ids.isEmpty }

    func contains(_ id: NodeID) -> Bool { ids.contains(id) }

    /// The largest value that a majority has reached, given each voter's value. An empty
    /// configuration reports `UInt64.max`, so it never holds back the joint minimum.
    func committed(_ value: (NodeID) -> UInt64) -> UInt64 {
        let n = ids.count
        if n == 0 { return UInt64.max }
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: n) { buffer in
            for i in 0..<n { buffer[i] = value(ids[i]) }
            // Insertion sort, descending: n is a handful of voters, so this beats a general sort
            // and allocates nothing.
            for i in 1..<n {
                let x = buffer[i]
                var j = i - 1
                while j >= 0 && buffer[j] < x {
                    buffer[j + 1] = buffer[j]
                    j -= 1
                }
                buffer[j + 1] = x
            }
            // With values sorted descending, the (n/2 + 1)-th largest is held by a majority.
            return buffer[n / 2]
        }
    }

    /// Counts votes: `vote` is true (granted), false (rejected) or nil (no answer yet).
    func voteResult(_ vote: (NodeID) -> Bool?) -> VoteResult {
        if ids.isEmpty { return .won }
        var granted = 0
        var missing = 0
        for id in ids {
            switch vote(id) {
            case .some(true): granted += 1
            case .some(false): break
            case .none: missing += 1
            }
        }
        let quorum = ids.count / 2 + 1
        if granted >= quorum { return .won }
        if granted + missing >= quorum { return .pending }
        return .lost
    }
}

/// A joint configuration: decisions need a majority of `incoming` and of `outgoing` (thesis §4.3).
/// Outside joint consensus `outgoing` is empty and counts as always agreeing.
struct JointConfig: Sendable, Equatable {
    let incoming: MajorityConfig
    let outgoing: MajorityConfig

    init(_ conf: ConfState) {
        incoming = MajorityConfig(conf.voters)
        outgoing = MajorityConfig(conf.votersOutgoing)
    }

    func contains(_ id: NodeID) -> Bool { incoming.contains(id) || outgoing.contains(id) }

    /// Every voter of either half, sorted, without duplicates.
    var ids: [NodeID] {
        if outgoing.isEmpty { return incoming.ids }
        return Array(Set(incoming.ids).union(outgoing.ids)).sorted()
    }

    /// The largest value that both halves have reached by majority.
    func committed(_ value: (NodeID) -> UInt64) -> UInt64 {
        min(incoming.committed(value), outgoing.committed(value))
    }

    /// Won only if both halves won; lost if either lost.
    func voteResult(_ vote: (NodeID) -> Bool?) -> VoteResult {
        let a = incoming.voteResult(vote)
        let b = outgoing.voteResult(vote)
        if a == b { return a }
        if a == .lost || b == .lost { return .lost }
        return .pending
    }
}
