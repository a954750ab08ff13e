// The leader: accepting proposals, replicating with per-follower flow control (§5.3), committing
// by counting (§5.4.2), and leadership transfer (thesis §3.10).

extension RaftNode {
    func stepLeader(_ m: Message) {
        precondition(role == .leader)
        // Only a granted pre-vote answer can carry another term here; it means nothing to a leader.
        guard m.term == term else { return }
        guard let i = tracker.slot(m.from) else { return }  // not a member (any more)
        switch m.type {
        case .appendEntriesResponse:
            tracker.progress[i].recentActive = true
            handleAppendResponse(i, m)
        case .heartbeatResponse:
            tracker.progress[i].recentActive = true
            handleHeartbeatResponse(i, m)
        case .readIndex:
            // A follower's forwarded read; if refused the follower's reader times out and retries.
            try? acceptRead(from: m.from, context: m.context)
        case .appendEntries, .heartbeat, .installSnapshot:
            preconditionFailure("another leader in term \(term) (Election Safety)")
        default:
            break  // stale vote answers and the like
        }
    }

    // MARK: Proposals

    func checkCanPropose(bytes: Int) throws(RaftError) {
        guard role == .leader else { throw notLeaderError() }
        guard tracker.isVoter(id) else {
            throw RaftError(.notMember, "this leader was removed from the configuration")
        }
        guard leadTransferee == .none else {
            throw RaftError(.transferInProgress, "leadership is moving to \(leadTransferee)", leader: id)
        }
        // One proposal larger than the limit still goes through when nothing is outstanding,
        // so an oversized entry is not stuck forever (as etcd does).
        guard uncommittedBytes == 0 || uncommittedBytes + bytes <= config.uncommittedEntriesMaxBytes else {
            throw RaftError(
                .uncommittedLimitExceeded,
                "\(uncommittedBytes) bytes uncommitted; limit \(config.uncommittedEntriesMaxBytes)", leader: id
            )
        }
    }

    func appendAsLeader(_ entry: Entry) {
        appendAsLeader(CollectionOfOne(entry))
    }

    /// Appends to the leader's own log; followers get the entries at the next `ready()`. The leader's
    /// own copy counts towards commitment only once the host persisted it (see `advance`).
    func appendAsLeader(_ entries: some Collection<Entry>) {
        precondition(role == .leader)
        for e in entries {
            precondition(e.term == term, "a leader appends only entries of its term")
            uncommittedBytes += e.data.count
        }
        raftLog.append(entries)
        broadcastPending = true
    }

    // MARK: Replication

    /// Sends entries to every follower (and the commit index even when there is nothing new).
    func broadcastAppend() {
        for i in tracker.ids.indices where tracker.ids[i] != id {
            if sendAppend(i, sendIfEmpty: true) {
                while sendAppend(i, sendIfEmpty: false) {}
            }
        }
    }

    func broadcastHeartbeat(context: [UInt8] = []) {
        for i in tracker.ids.indices where tracker.ids[i] != id {
            // Never a commit beyond what the follower is known to hold.
            let commit = min(tracker.progress[i].match, raftLog.committed)
            send(Message(
                type: .heartbeat, from: id, to: tracker.ids[i], term: term, commit: commit,
                context: context, leaseTick: tickCount
            ))
        }
    }

    /// Sends the next append (or a snapshot) to the member in slot `i`. Returns whether it sent.
    @discardableResult
    func sendAppend(_ i: Int, sendIfEmpty: Bool) -> Bool {
        let to = tracker.ids[i]
        precondition(to != id)
        if tracker.progress[i].isPaused { return false }
        let next = tracker.progress[i].next
        let prevIndex = next.advanced(by: -1)
        guard let prevTerm = raftLog.term(at: prevIndex),
            let entries = raftLog.entriesForAppend(
                from: next, maxBytes: config.messageSizeMaxBytes, maxCount: config.proposalBatchMaxEntries)
        else {
            return sendSnapshot(i)
        }
        if entries.isEmpty && !sendIfEmpty { return false }
        tracker.progress[i].sentEntries(last: entries.last?.index)
        send(Message(
            type: .appendEntries, from: id, to: to, term: term, logTerm: prevTerm, index: prevIndex,
            entries: entries, commit: raftLog.committed, leaseTick: tickCount
        ))
        return true
    }

    /// The follower needs entries we compacted: send the snapshot instead (§7).
    private func sendSnapshot(_ i: Int) -> Bool {
        // A follower we have not heard from recently may be down; do not waste a snapshot on it.
        guard tracker.progress[i].recentActive else { return false }
        let meta = raftLog.snapshot
        precondition(meta.index > .zero, "entries below index 1 are never compacted")
        tracker.progress[i].becomeSnapshot(meta.index)
        send(Message(
            type: .installSnapshot, from: id, to: tracker.ids[i], term: term,
            snapshot: Snapshot(metadata: meta, data: raftLog.snapshotData)
        ))
        return true
    }

    /// Snapshots can be lost in transit; one still pending after a full check-quorum round is
    /// abandoned so the next probe sends it again.
    func retryStaleSnapshots() {
        for i in tracker.ids.indices where tracker.progress[i].state == .snapshot {
            if tracker.progress[i].snapshotRoundSeen {
                tracker.progress[i].pendingSnapshot = .zero
                tracker.progress[i].becomeProbe()
            } else {
                tracker.progress[i].snapshotRoundSeen = true
            }
        }
    }

    private func handleAppendResponse(_ i: Int, _ m: Message) {
        if m.leaseTick > tracker.progress[i].leaseTick { tracker.progress[i].leaseTick = m.leaseTick }
        if m.reject {
            // Fast backtracking: jump to the last index whose term the follower could match.
            var hint = m.rejectHint
            if m.rejectHintTerm > .zero {
                hint = raftLog.findConflictByTerm(m.rejectHint, m.rejectHintTerm).index
            }
            if tracker.progress[i].maybeDecrTo(rejected: m.index, matchHint: hint) {
                if tracker.progress[i].state == .replicate { tracker.progress[i].becomeProbe() }
                sendAppend(i, sendIfEmpty: true)
            }
            return
        }
        guard tracker.progress[i].maybeUpdate(m.index) else { return }
        switch tracker.progress[i].state {
        case .probe:
            tracker.progress[i].becomeReplicate()
        case .snapshot:
            // The follower installed the snapshot we sent (or one at least as new as our own).
            let progress = tracker.progress[i]
            if progress.match >= progress.pendingSnapshot || progress.match >= raftLog.snapshot.index {
                tracker.progress[i].becomeProbe()
                tracker.progress[i].becomeReplicate()
            }
        case .replicate:
            tracker.progress[i].inflights.freeLE(m.index)
        }
        if maybeCommit() { broadcastPending = true }
        while sendAppend(i, sendIfEmpty: false) {}
        if m.from == leadTransferee && tracker.progress[i].match == raftLog.lastIndex {
            sendTimeoutNow(to: m.from)
        }
    }

    private func handleHeartbeatResponse(_ i: Int, _ m: Message) {
        if m.leaseTick > tracker.progress[i].leaseTick { tracker.progress[i].leaseTick = m.leaseTick }
        tracker.progress[i].probeSent = false
        if tracker.progress[i].state == .replicate && tracker.progress[i].inflights.isFull {
            // The follower is alive but an ack may have been lost: make room for one more.
            tracker.progress[i].inflights.freeFirst()
        }
        if tracker.progress[i].match < raftLog.lastIndex { sendAppend(i, sendIfEmpty: true) }
        if m.from == leadTransferee && tracker.progress[i].match == raftLog.lastIndex {
            // The first TimeoutNow may have been lost (thesis §3.10): repeat it while transferring.
            sendTimeoutNow(to: m.from)
        }
        if let seq = ReadOnlyQueue.seq(m.context) {
            for read in readOnly.acknowledge(from: m.from, seq: seq, voters: tracker.voters) {
                completeRead(read.from, index: read.index, context: read.context)
            }
        }
    }

    // MARK: Commitment

    /// §5.4.2: advance the commit index to what a quorum matched, but only by counting replicas of
    /// an entry of the current term; earlier entries commit indirectly with it (Figure 8).
    @discardableResult
    func maybeCommit() -> Bool {
        let index = tracker.committed()
        guard index > raftLog.committed else { return false }
        guard isCommittableByCounting(index) else { return false }
        let firstInTerm = !committedInCurrentTerm
        raftLog.commit(to: index)
        if firstInTerm { releaseReadsAwaitingCommit() }
        return true
    }

    /// §5.4.2: only an entry of the leader's current term may be committed by counting replicas.
    func isCommittableByCounting(_ index: LogIndex) -> Bool {
        raftLog.term(at: index) == term
    }

    var committedInCurrentTerm: Bool { raftLog.term(at: raftLog.committed) == term }

    // MARK: Leadership transfer

    func startTransfer(to target: NodeID) {
        precondition(role == .leader)
        if target == id || target == leadTransferee { return }
        // Give the transfer one election timeout (thesis §3.10), then resume normal operation.
        electionElapsed = 0
        leadTransferee = target
        guard let i = tracker.slot(target) else { preconditionFailure("transfer target has no progress") }
        if tracker.progress[i].match == raftLog.lastIndex {
            sendTimeoutNow(to: target)
        } else {
            sendAppend(i, sendIfEmpty: true)
        }
    }

    func sendTimeoutNow(to target: NodeID) {
        leaseVoid = true
        send(Message(type: .timeoutNow, from: id, to: target, term: term))
    }
}
