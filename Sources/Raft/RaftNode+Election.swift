// Roles and elections (§5.2, §5.4.1, thesis §9.6 pre-vote, §6.2 check-quorum, §3.10 transfer).

/// Which kind of election a node runs.
enum CampaignKind {
    /// Ask first whether we could win, without raising the term (thesis §9.6).
    case preElection
    /// A real election in a new term (§5.2).
    case election
    /// A real election that voters grant despite their leader leases (thesis §3.10).
    case transfer
}

extension RaftNode {
    // MARK: Role changes

    /// Enters `term` (clearing the vote if it is new) and forgets role-specific state.
    func reset(term newTerm: Term) {
        precondition(newTerm >= term, "terms never go back")
        if newTerm != term {
            term = newTerm
            vote = .none
        }
        lead = .none
        electionElapsed = 0
        heartbeatElapsed = 0
        resetRandomizedElectionTimeout()
        leadTransferee = .none
        leaseVoid = false
        tracker.resetVotes()
        readOnly.reset()
        readsAwaitingCommit = []
        broadcastPending = false
        readHeartbeatPending = false
    }

    func resetRandomizedElectionTimeout() {
        let t = config.electionTimeoutTicks
        randomizedElectionTimeout = t + Int.random(in: 0..<t, using: &random)
    }

    func becomeFollower(term newTerm: Term, leader: NodeID) {
        reset(term: newTerm)
        lead = leader
        role = .follower
    }

    func becomePreCandidate() {
        precondition(role != .leader, "a leader does not campaign")
        // Neither term nor vote changes: a pre-election has no side effects on anyone (thesis §9.6).
        tracker.resetVotes()
        lead = .none
        role = .preCandidate
    }

    func becomeCandidate() {
        precondition(role != .leader, "a leader does not campaign")
        reset(term: term.next)
        vote = id
        role = .candidate
    }

    func becomeLeader() {
        precondition(role == .candidate, "only a candidate that won becomes leader")
        precondition(vote == id)
        reset(term: term)
        lead = id
        role = .leader
        tracker.resetProgress(lastIndex: raftLog.lastIndex, selfID: id, selfMatch: raftLog.stable)
        // Entries of earlier terms may hide configuration changes not applied yet: no new change
        // until everything up to here is applied.
        pendingConfIndex = raftLog.lastIndex
        uncommittedBytes = 0
        // The no-op of §5.4.2 / Figure 8: commits everything before it once it commits, and tells
        // the leader its commit index is current (needed before serving reads, thesis §6.4).
        appendAsLeader(Entry(term: term, index: raftLog.lastIndex.advanced(by: 1)))
    }

    // MARK: Ticks

    func tickElection() {
        electionElapsed += 1
        if electionElapsed >= config.electionTimeoutTicks { startupLeaseGuard = false }
        if promotable && electionElapsed >= randomizedElectionTimeout {
            electionElapsed = 0
            hup()
        }
    }

    func tickHeartbeat() {
        precondition(role == .leader)
        heartbeatElapsed += 1
        electionElapsed += 1
        if electionElapsed >= config.electionTimeoutTicks {
            electionElapsed = 0
            if config.checkQuorum {
                // Thesis §6.2: a leader that has not heard from a quorum for an election timeout
                // steps down, so a partitioned leader stops serving.
                guard tracker.quorumActive(selfID: id) else {
                    becomeFollower(term: term, leader: .none)
                    return
                }
                for i in tracker.ids.indices where tracker.ids[i] != id {
                    tracker.progress[i].recentActive = false
                }
            }
            retryStaleSnapshots()
            if leadTransferee != .none {
                // Thesis §3.10: the transfer did not finish within an election timeout; resume.
                leadTransferee = .none
            }
        }
        if heartbeatElapsed >= config.heartbeatIntervalTicks {
            heartbeatElapsed = 0
            // Periodic heartbeats carry the newest read round too, so reads whose first round was
            // lost still complete.
            broadcastHeartbeat(context: readOnly.latestSeq.map(ReadOnlyQueue.context) ?? [])
        }
    }

    // MARK: Campaigns

    /// The election timeout passed (or the host asked for an election).
    func hup() {
        guard role != .leader else { return }
        guard promotable else { return }
        // A committed configuration change not applied yet might change who votes.
        guard !raftLog.hasUnappliedConfChange else { return }
        startCampaign(config.preVote ? .preElection : .election)
    }

    func startCampaign(_ kind: CampaignKind) {
        let voteType: MessageType
        let voteTerm: Term
        if kind == .preElection {
            becomePreCandidate()
            voteType = .preVote
            voteTerm = term.next
        } else {
            becomeCandidate()
            voteType = .requestVote
            voteTerm = term
        }
        if tracker.recordVote(from: id, granted: true) == .won {
            // A single voter wins on its own vote.
            if kind == .preElection { startCampaign(.election) } else { becomeLeader() }
            return
        }
        let context = kind == .transfer ? Self.transferContext : []
        for voter in tracker.voterIDs where voter != id {
            send(Message(
                type: voteType, from: id, to: voter, term: voteTerm,
                logTerm: raftLog.lastTerm, index: raftLog.lastIndex, context: context
            ))
        }
    }

    /// Whether this node heard from a leader within the election timeout; then it ignores vote
    /// requests that would depose that leader (leader stickiness, thesis §4.2.3 and §9.6). It also
    /// protects leases (§6.4.1): a lease counts on exactly this refusal.
    var inLeaderLease: Bool {
        guard config.checkQuorum else { return false }
        guard lead != .none || startupLeaseGuard else { return false }
        return electionElapsed < config.electionTimeoutTicks
    }

    /// Removed nodes cannot disrupt the cluster (thesis §4.2.3): a candidate outside our
    /// configuration is not answered, unless its log is ahead of ours. Then it may hold a
    /// configuration entry we have not applied (a voter added while we lagged), and ignoring it
    /// could leave no electable node; a removed node's log is not ahead of the members that
    /// removed it.
    func mayAnswerVoteRequest(_ m: Message) -> Bool {
        if tracker.isVoter(m.from) { return true }
        return m.logTerm > raftLog.lastTerm || (m.logTerm == raftLog.lastTerm && m.index > raftLog.lastIndex)
    }

    /// §5.4.1 election restriction: grant only to candidates whose log is at least as up to date.
    func candidateLogIsUpToDate(_ m: Message) -> Bool {
        raftLog.isUpToDate(lastTerm: m.logTerm, lastIndex: m.index)
    }

    /// Answers a vote or pre-vote request whose term is not below ours.
    func handleVoteRequest(_ m: Message) {
        precondition(m.type == .requestVote || m.type == .preVote)
        precondition(m.term >= term)
        guard mayAnswerVoteRequest(m) else { return }
        let isPreVote = m.type == .preVote
        let responseType: MessageType = isPreVote ? .preVoteResponse : .requestVoteResponse
        let canVote = vote == m.from || (vote == .none && lead == .none) || (isPreVote && m.term > term)
        if canVote && candidateLogIsUpToDate(m) {
            // A granted pre-vote answers in the asked-about term, so the asker can count it.
            send(Message(type: responseType, from: id, to: m.from, term: m.term))
            if !isPreVote {
                electionElapsed = 0
                vote = m.from
            }
        } else {
            send(Message(type: responseType, from: id, to: m.from, term: term, reject: true))
        }
    }

    /// Entry point for every message: term bookkeeping, then dispatch on role.
    func stepMessage(_ m: Message) {
        if m.term > term {
            if m.type == .requestVote || m.type == .preVote {
                guard mayAnswerVoteRequest(m) else { return }
                let force = m.context == Self.transferContext
                if !force && inLeaderLease { return }
            }
            switch m.type {
            case .preVote:
                break  // a pre-vote changes nothing here
            case .preVoteResponse where !m.reject:
                break  // a granted pre-vote carries the term we asked about, not a newer one
            case .appendEntries, .heartbeat, .installSnapshot:
                becomeFollower(term: m.term, leader: m.from)
            default:
                // Figure 2: the election timer restarts only on hearing from a leader or granting a
                // vote. Merely learning of a higher term (say from a candidate we will refuse, §5.4.1)
                // must not restart it, or a node that cannot win but times out first would keep
                // every other node from ever campaigning.
                let elapsed = electionElapsed
                becomeFollower(term: m.term, leader: .none)
                electionElapsed = elapsed
            }
        } else if m.term < term {
            if m.type == .heartbeat || m.type == .appendEntries || m.type == .installSnapshot {
                // Figure 2: answer with our term so a stale leader steps down. Without this a node
                // whose term ran ahead but which cannot campaign (pre-vote, leases, or a stale
                // configuration in which it is no voter) would never rejoin the leader's term.
                send(Message(type: .appendEntriesResponse, from: id, to: m.from, term: term))
            } else if m.type == .preVote {
                send(Message(type: .preVoteResponse, from: id, to: m.from, term: term, reject: true))
            }
            return
        }
        switch m.type {
        case .requestVote, .preVote:
            handleVoteRequest(m)
        default:
            switch role {
            case .leader: stepLeader(m)
            case .candidate, .preCandidate: stepCandidate(m)
            case .follower: stepFollower(m)
            }
        }
    }
}
