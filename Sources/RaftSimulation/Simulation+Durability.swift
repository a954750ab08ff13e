// What the host checks about durability, independently of the core's own bookkeeping: every message
// that promises something about durable state is sent only once that state is synced (Figure 2,
// "respond to RPCs" after "persistent state ... updated on stable storage"), and every commit a
// leader makes is backed by a quorum of durable copies. The second catches a leader that counts its
// own entries before they are synced, or a follower's before it answered, at the moment it commits,
// without waiting for the crash that would lose them.

import Raft

extension Simulation {
    /// Whether a host that sends before syncing (kvd's early send) may send `m` now: a leader's
    /// appends, heartbeats, TimeoutNow and read answers depend on nothing unsynced as long as their
    /// term is already durable (thesis §10.2.1: the leader may write its log in parallel with
    /// replicating it, since its own copy counts only once synced); a pre-vote request changes no
    /// state anywhere (thesis §9.6).
    func mayEarlySend(_ m: Message, durableTerm: Term) -> Bool {
        switch m.type {
        case .preVote:
            return true
        case .appendEntries, .heartbeat, .timeoutNow, .readIndexResponse:
            return m.term <= durableTerm
        default:
            return false
        }
    }

    /// Checks that `m`, about to leave `h`, promises nothing that `h`'s disk does not hold yet.
    func checkDurableBeforeSend(_ m: Message, from h: SimHost) {
        let hs = h.durable.hardState
        func fail(_ what: String) {
            result.violation = result.violation ?? Violation(.persistBeforeSend, "\(m.from) sent \(m.type) term \(m.term) to \(m.to) \(what)")
        }
        switch m.type {
        case .preVote:
            return  // asks about a term the sender has not entered
        case .preVoteResponse where !m.reject:
            return  // a grant carries the asked-about term, which the voter does not enter
        default:
            break
        }
        guard m.term <= hs.term else {
            fail("before term \(m.term) was durable (durable term \(hs.term))")
            return
        }
        switch m.type {
        case .requestVote where hs.term == m.term && hs.vote != m.from:
            fail("before its vote for itself was durable (durable vote \(hs.vote))")
        case .requestVoteResponse where !m.reject:
            // §5.2: at most one vote per term, and only a durable vote survives a crash.
            if hs.term == m.term && hs.vote != m.to {
                fail("granting a vote that is not durable (durable vote \(hs.vote) in term \(hs.term))")
            }
        case .appendEntriesResponse where !m.reject:
            // The leader counts this answer towards commitment (§5.3). An answer that a newer term
            // already superseded on this disk (the entries were replaced before they were synced)
            // cannot be counted towards a commit any more: its term's leader cannot win a quorum.
            if h.durable.lastIndex < m.index && hs.term == m.term {
                fail("acknowledging index \(m.index) with only \(h.durable.lastIndex) durable")
            }
        default:
            break
        }
    }

    /// If `h` leads and its commit index rose within its term, a quorum of its configuration must
    /// hold the entry there durably. Called after every step and every `advance`, before the host
    /// applies anything: applying a configuration entry changes the quorum the commit was made in.
    func checkCommitDurable(_ h: SimHost) {
        guard let node = h.node else { return }
        let s = node.status
        guard s.role == .leader else { return }
        let log = node.log
        let key = LeaderCommitKey(node: s.id, incarnation: h.incarnation, term: s.term)
        let seen = leaderCommitSeen[key]
        leaderCommitSeen[key] = s.commit
        // The commit a node brings into its leadership was made by someone else (and checked there).
        guard let seen, s.commit > seen else { return }
        let index = s.commit
        guard let term = log.term(at: index) else { return }
        func holds(_ id: NodeID) -> Bool {
            guard let d = host(id)?.durable else { return false }
            if let snap = d.snapshot, snap.metadata.index >= index { return true }
            return d.term(at: index) == term
        }
        for half in [s.confState.voters, s.confState.votersOutgoing] where !half.isEmpty {
            let durable = half.filter(holds).count
            if durable * 2 <= half.count {
                result.violation = result.violation ?? Violation(
                    .commitDurability,
                    "leader \(s.id) of term \(s.term) committed \(index) (term \(term)) durable on only \(durable) of voters \(half.sorted())"
                )
                return
            }
        }
    }
}

/// A leader in one life and one term: its commit index is tracked from the moment it leads.
struct LeaderCommitKey: Hashable {
    var node: NodeID
    var incarnation: Int
    var term: Term
}
