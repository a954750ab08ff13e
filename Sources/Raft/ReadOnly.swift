// The leader's queue of ReadIndex requests (thesis §6.4). Each request records the commit index at
// arrival; it completes once a quorum has answered a heartbeat sent after it arrived, which proves
// that no newer leader could have committed anything this leader does not know of.

/// A read waiting for its heartbeat round.
struct PendingRead: Sendable {
    /// Identifies the round; heartbeats carry it as their context.
    let seq: UInt64
    /// The leader's commit index when the read arrived.
    let index: LogIndex
    /// Who asked: this node, or a follower that forwarded the read.
    let from: NodeID
    let context: [UInt8]
    /// Voters that answered a heartbeat of this round or a later one.
    var acks: [NodeID]
}

struct ReadOnlyQueue: Sendable {
    /// Invariant: seqs increase along the queue.
    private(set) var pending: [PendingRead] = []
    private var nextSeq: UInt64 = 1

    var isEmpty: Bool { pending.isEmpty }
    var count: Int { pending.count }
    /// The round a heartbeat should carry: the newest request's.
    var latestSeq: UInt64? { pending.last?.seq }

    mutating func add(index: LogIndex, from: NodeID, context: [UInt8], selfID: NodeID) {
        precondition(pending.last.map { $0.index <= index } ?? true, "read indexes go back")
        pending.append(PendingRead(seq: nextSeq, index: index, from: from, context: context, acks: [selfID]))
        nextSeq += 1
    }

    /// `voter` answered the heartbeat of round `seq`: that confirms every request up to it. Returns
    /// the requests that now have a quorum, oldest first.
    mutating func acknowledge(from voter: NodeID, seq: UInt64, voters: JointConfig) -> [PendingRead] {
        var confirmed = -1
        for i in pending.indices {
            guard pending[i].seq <= seq else { break }
            if !pending[i].acks.contains(voter) { pending[i].acks.append(voter) }
            let acks = pending[i].acks
            if voters.voteResult({ acks.contains($0) ? true : nil }) == .won { confirmed = i }
        }
        guard confirmed >= 0 else { return [] }
        let done = Array(pending[0...confirmed])
        pending.removeSubrange(0...confirmed)
        return done
    }

    /// A new term: waiting reads are abandoned (their readers retry against the new leader).
    mutating func reset() {
        pending = []
    }

    /// Encodes a round for a heartbeat's context.
    static func context(_ seq: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: seq >> UInt64(8 * $0)) }
    }

    /// Decodes a heartbeat context; nil if it carries no round.
    static func seq(_ context: [UInt8]) -> UInt64? {
        guard context.count == 8 else { return nil }
        var seq: UInt64 = 0
        for i in 0..<8 { seq |= UInt64(context[i]) << UInt64(8 * i) }
        return seq
    }
}
