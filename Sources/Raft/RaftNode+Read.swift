// Linearizable reads without log writes: ReadIndex (thesis §6.4) and leases (thesis §6.4.1).

extension RaftNode {
    /// A read request reaches the leader (from itself or forwarded by a follower).
    func acceptRead(from requester: NodeID, context: [UInt8]) throws(RaftError) {
        precondition(role == .leader)
        guard committedInCurrentTerm else {
            // Thesis §6.4 step 1: until an entry of this term commits, our commit index may lag
            // what earlier leaders committed. Wait for the no-op.
            guard readsAwaitingCommit.count < config.readIndexPendingMax else {
                throw RaftError(.readIndexLimitExceeded, "too many reads waiting for the first commit", leader: id)
            }
            readsAwaitingCommit.append((requester, context))
            return
        }
        try serveRead(from: requester, context: context)
    }

    private func serveRead(from requester: NodeID, context: [UInt8]) throws(RaftError) {
        let index = raftLog.committed
        if tracker.voters.incoming.ids == [id] && tracker.voters.outgoing.isEmpty {
            // The only voter: nobody else can lead.
            completeRead(requester, index: index, context: context)
            return
        }
        if config.readOnlyMode == .leaseBased && leaseIsValid() {
            leaseReadsServed &+= 1
            completeRead(requester, index: index, context: context)
            return
        }
        guard readOnly.count < config.readIndexPendingMax else {
            throw RaftError(.readIndexLimitExceeded, "too many reads waiting for a heartbeat round", leader: id)
        }
        // Thesis §6.4 steps 2-3: remember the commit index, then confirm leadership with a
        // heartbeat round. One round (at the next ready) confirms every read queued before it.
        readOnly.add(index: index, from: requester, context: context, selfID: id)
        readHeartbeatPending = true
    }

    func releaseReadsAwaitingCommit() {
        let waiting = readsAwaitingCommit
        readsAwaitingCommit = []
        for read in waiting {
            try? serveRead(from: read.from, context: read.context)
        }
    }

    func completeRead(_ requester: NodeID, index: LogIndex, context: [UInt8]) {
        if requester == id {
            readStates.append(ReadState(index: index, context: context))
        } else {
            send(Message(type: .readIndexResponse, from: id, to: requester, term: term, index: index, context: context))
        }
    }

    /// Thesis §6.4.1: the lease holds while a quorum has answered a heartbeat or append sent fewer
    /// than (election timeout - clock drift bound) ticks ago. Those voters refuse to vote for anyone
    /// else for an election timeout after hearing from us, so no other leader can exist yet.
    func leaseIsValid() -> Bool {
        guard role == .leader, !leaseVoid, leadTransferee == .none else { return false }
        let quorumTick = tracker.quorumLeaseTick(selfID: id, selfTick: tickCount)
        guard quorumTick > 0 else { return false }
        precondition(quorumTick <= tickCount, "an echoed tick from the future")
        return isWithinLease(ticksSinceQuorum: tickCount - quorumTick)
    }

    /// The lease is the election timeout shortened by the clock-drift bound (thesis §6.4.1), and
    /// by one more tick of granularity: a voter that heard the heartbeat just before its own tick
    /// is free to vote (T - 1) tick periods after the send plus a moment, not T.
    func isWithinLease(ticksSinceQuorum elapsed: UInt64) -> Bool {
        elapsed + 1 < UInt64(config.electionTimeoutTicks - config.leaseClockDriftBoundTicks)
    }
}
