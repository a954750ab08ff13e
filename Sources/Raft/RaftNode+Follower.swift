// The follower and candidate leaves of the step dispatch, and the follower's side of replication.

extension RaftNode {
    func stepFollower(_ m: Message) {
        precondition(role == .follower)
        switch m.type {
        case .appendEntries:
            heardFromLeader(m.from)
            handleAppend(m)
        case .heartbeat:
            heardFromLeader(m.from)
            handleHeartbeat(m)
        case .installSnapshot:
            heardFromLeader(m.from)
            handleSnapshot(m)
        case .timeoutNow:
            // Thesis §3.10: the leader asks us to take over now, skipping pre-vote and leases.
            guard promotable, !raftLog.hasUnappliedConfChange else { return }
            startCampaign(.transfer)
        case .readIndexResponse:
            readStates.append(ReadState(index: m.index, context: m.context))
        default:
            break  // stale answers from an earlier role, reads sent to a non-leader
        }
    }

    func stepCandidate(_ m: Message) {
        precondition(role == .candidate || role == .preCandidate)
        let myResponse: MessageType = role == .preCandidate ? .preVoteResponse : .requestVoteResponse
        switch m.type {
        case .appendEntries:
            // A leader of our term exists (§5.2): follow it.
            becomeFollower(term: m.term, leader: m.from)
            handleAppend(m)
        case .heartbeat:
            becomeFollower(term: m.term, leader: m.from)
            handleHeartbeat(m)
        case .installSnapshot:
            becomeFollower(term: m.term, leader: m.from)
            handleSnapshot(m)
        case myResponse:
            switch tracker.recordVote(from: m.from, granted: !m.reject) {
            case .won:
                if role == .preCandidate { startCampaign(.election) } else { becomeLeader() }
            case .lost:
                becomeFollower(term: term, leader: .none)
            case .pending:
                break
            }
        default:
            break
        }
    }

    private func heardFromLeader(_ leader: NodeID) {
        precondition(lead == .none || lead == leader, "two leaders in one term (Election Safety)")
        electionElapsed = 0
        lead = leader
    }

    /// §5.3: accept entries if our log holds the leader's previous entry; otherwise reject with a
    /// hint that lets the leader skip a whole term of mismatching entries at once.
    func handleAppend(_ m: Message) {
        if m.index < raftLog.committed {
            send(Message(type: .appendEntriesResponse, from: id, to: m.from, term: term, index: raftLog.committed, leaseTick: m.leaseTick))
            return
        }
        if let last = raftLog.maybeAppend(prevIndex: m.index, prevTerm: m.logTerm, leaderCommit: m.commit, m.entries) {
            send(Message(type: .appendEntriesResponse, from: id, to: m.from, term: term, index: last, leaseTick: m.leaseTick))
            return
        }
        let hint = raftLog.findConflictByTerm(min(m.index, raftLog.lastIndex), m.logTerm)
        send(Message(
            type: .appendEntriesResponse, from: id, to: m.from, term: term, index: m.index,
            reject: true, rejectHint: hint.index, rejectHintTerm: hint.term, leaseTick: m.leaseTick
        ))
    }

    func handleHeartbeat(_ m: Message) {
        // The leader sends at most our match, which we hold; clamp anyway against a shorter log.
        raftLog.commit(to: min(m.commit, raftLog.lastIndex))
        send(Message(type: .heartbeatResponse, from: id, to: m.from, term: term, context: m.context, leaseTick: m.leaseTick))
    }

    func handleSnapshot(_ m: Message) {
        guard let snap = m.snapshot else { return }
        let index = restore(snap) ? raftLog.lastIndex : raftLog.committed
        send(Message(type: .appendEntriesResponse, from: id, to: m.from, term: term, index: index))
    }

    /// Installs a leader's snapshot (§7) unless our log already covers it. Returns whether it did.
    private func restore(_ snap: Snapshot) -> Bool {
        let meta = snap.metadata
        if meta.index <= raftLog.committed { return false }
        // The snapshot's configuration may predate this node's membership (a node added after the
        // last compaction): it learns of its addition from the entries that follow.
        let conf = meta.confState
        if raftLog.matchTerm(meta.index, meta.term) {
            // Our log already holds the snapshot's last entry: just commit up to it.
            raftLog.commit(to: meta.index)
            return false
        }
        raftLog.restore(snap)
        tracker.apply(conf, lastIndex: raftLog.lastIndex)
        confHistory = [(meta.index, conf)]
        // Configuration entries handed out before this snapshot may still be applied by the host
        // (it finishes the Ready it holds); the snapshot's configuration already includes them.
        confSupersededThrough = meta.index
        return true
    }
}
