// The leader's bookkeeping for the whole configuration: who votes, who learns, and each member's
// progress. Members are kept in sorted parallel arrays: lookups scan a handful of ids (cheaper than
// hashing) and iteration order is deterministic. A class, owned by exactly one node: the quorum
// closures then capture one reference instead of copying every array of the tracker (measured in
// raft-bench).

final class ProgressTracker {
    private(set) var confState: ConfState
    private(set) var voters: JointConfig
    /// Invariant: sorted; every voter and learner of `confState`, nothing else.
    private(set) var ids: [NodeID]
    /// Parallel to `ids`.
    var progress: [Progress]
    /// Votes received in the current election, parallel to `ids`.
    private var votes: [Bool?]
    let inflightMessagesMax: Int

    init(confState: ConfState, inflightMessagesMax: Int) {
        self.confState = ConfState()
        self.voters = JointConfig(ConfState())
        self.ids = []
        self.progress = []
        self.votes = []
        self.inflightMessagesMax = inflightMessagesMax
        apply(confState, lastIndex: .zero)
    }

    func slot(_ id: NodeID) -> Int? {
        for i in ids.indices where ids[i] == id { return i }
        return nil
    }

    func isVoter(_ id: NodeID) -> Bool { voters.contains(id) }

    /// Every voter (either half of a joint configuration), sorted.
    var voterIDs: [NodeID] { voters.ids }

    /// Switches to `new`: keeps progress of members that stay, creates it for new ones (probing
    /// from `lastIndex + 1`), drops it for those that left.
    func apply(_ new: ConfState, lastIndex: LogIndex) {
        let newVoters = JointConfig(new)
        var members = new.voters.union(new.votersOutgoing).union(new.learners).union(new.learnersNext)
        members.remove(.none)
        let newIDs = members.sorted()
        var newProgress: [Progress] = []
        newProgress.reserveCapacity(newIDs.count)
        for id in newIDs {
            let learner = !newVoters.contains(id)
            if let i = slot(id) {
                var p = progress[i]
                p.isLearner = learner
                newProgress.append(p)
            } else {
                var p = Progress(next: lastIndex.advanced(by: 1), inflightMessagesMax: inflightMessagesMax, isLearner: learner)
                // A new member has not been heard from yet, but must not cost the leader its quorum
                // check before it had a chance to answer (etcd does the same).
                p.recentActive = true
                newProgress.append(p)
            }
        }
        confState = new
        voters = newVoters
        ids = newIDs
        progress = newProgress
        votes = Array(repeating: nil, count: newIDs.count)
    }

    /// The largest index a quorum has matched (thesis §4.3 for the joint case).
    func committed() -> LogIndex {
        let value = voters.committed { id in
            guard let i = slot(id) else { return 0 }
            return progress[i].match.rawValue
        }
        return LogIndex(value == UInt64.max ? 0 : value)
    }

    /// The newest leader tick that a quorum has echoed (thesis §6.4.1); `selfTick` for this node.
    func quorumLeaseTick(selfID: NodeID, selfTick: UInt64) -> UInt64 {
        let value = voters.committed { id in
            if id == selfID { return selfTick }
            guard let i = slot(id) else { return 0 }
            return progress[i].leaseTick
        }
        return value == UInt64.max ? 0 : value
    }

    func resetVotes() {
        for i in votes.indices { votes[i] = nil }
    }

    /// Records a vote (the first answer from a voter counts) and returns the tally.
    func recordVote(from id: NodeID, granted: Bool) -> VoteResult {
        if let i = slot(id), votes[i] == nil {
            votes[i] = granted
        }
        return tallyVotes()
    }

    func tallyVotes() -> VoteResult {
        voters.voteResult { id in slot(id).flatMap { votes[$0] } }
    }

    /// Whether a quorum was active since the last check (check-quorum, thesis §6.2).
    func quorumActive(selfID: NodeID) -> Bool {
        voters.voteResult { id in
            if id == selfID { return true }
            guard let i = slot(id) else { return false }
            return progress[i].recentActive
        } == .won
    }

    /// Everyone's progress restarts from `lastIndex + 1` (a new leader, §5.3).
    func resetProgress(lastIndex: LogIndex, selfID: NodeID, selfMatch: LogIndex) {
        for i in ids.indices {
            var p = Progress(next: lastIndex.advanced(by: 1), inflightMessagesMax: inflightMessagesMax, isLearner: progress[i].isLearner)
            if ids[i] == selfID {
                p.match = selfMatch
                p.becomeReplicate()
                p.next = lastIndex.advanced(by: 1)
            }
            p.recentActive = ids[i] == selfID
            progress[i] = p
        }
    }
}
