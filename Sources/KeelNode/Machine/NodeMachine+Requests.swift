import KeelStorage
import KeelTransport
import Raft

// Client requests: proposals (or forwarding), linearizable reads, waiting for a leader, deadlines.

extension NodeMachine {
    /// Validates a write and checks there is room for it; returns its encoded command. Call before
    /// waiting for a leader, then ``propose(_:deadline:into:)``.
    public func admitWrite(_ command: KVCommand) throws(KeelError) -> [UInt8] {
        let data = command.encoded()
        try RequestValidation.check(command, encodedBytes: data.count, maxRequestBytes: config.maxRequestBytes)
        guard proposals.count < config.pendingProposalsMax else {
            metrics.proposalFailed()
            throw KeelError.tooManyRequests
        }
        return data
    }

    /// Proposes an admitted write on the leader, or forwards it to the leader from a follower (the
    /// outcome then arrives by applying the committed entry here). Returns the request id whose
    /// ``NodeReply`` comes in a later output, never in this one.
    public func propose(_ data: [UInt8], deadline: Duration, into out: inout NodeOutput) throws(KeelError) -> UInt64 {
        if let halted { throw halted }
        guard proposals.count < config.pendingProposalsMax else {
            metrics.proposalFailed()
            throw KeelError.tooManyRequests
        }
        let leader = raft.status.leader
        guard leader != .none else { throw KeelError.noLeader }
        let requestID = nextRequestID()
        let envelope = EntryEnvelope(origin: id, requestID: requestID, command: data).encoded()
        if leader == id {
            do {
                try raft.propose(envelope)
            } catch {
                metrics.proposalFailed()
                throw Self.map(error)
            }
        } else {
            out.messages.append(.proposal(ForwardedProposal(from: id, to: leader, requestID: requestID, data: envelope)))
        }
        proposals[requestID] = PendingProposal(deadline: deadline, leader: leader)
        metrics.recordPending(proposals.count)
        return requestID
    }

    /// Whether a linearizable read can be taken now (call before waiting for a leader).
    public func admitRead() throws(KeelError) {
        guard reads.count < config.pendingProposalsMax else { throw KeelError.tooManyRequests }
    }

    /// Asks the leader for a read index (thesis §6.4); the read is served once this node applied
    /// that far. Returns the request id whose ``NodeReply`` comes in a later output.
    ///
    /// The ticks the clock says are due fire first: with lease reads the core judges its lease in
    /// ticks (thesis §6.4.1), and a process that was paused or starved has not fired them yet. A
    /// lease that ended while it was stopped must look ended now, not once the ticker runs again.
    public func startLinearizableRead(_ command: KVCommand, deadline: Duration, now: Duration, into out: inout NodeOutput) throws(KeelError) -> UInt64 {
        if let halted { throw halted }
        advanceClock(to: now, into: &out)
        if let halted { throw halted }
        try admitRead()
        let readID = nextRequestID()
        do {
            try raft.readIndex(context: ReadContext.encode(readID))
        } catch {
            throw Self.map(error)
        }
        reads[readID] = PendingRead(request: command, deadline: deadline, askedAtTick: tickCount)
        return readID
    }

    /// What ``waitForLeader(deadline:now:)`` decided.
    public enum LeaderWait: Equatable, Sendable {
        /// A leader is known.
        case known
        /// No leader and no time (or room) to wait for one.
        case gaveUp
        /// Waiting: the answer arrives as `leaderWaits` in a later output.
        case waiting(UInt64)
    }

    /// Waits until some node leads, for at most one election timeout and never past `deadline`:
    /// an election in progress usually ends within that; a node cut off from a quorum answers
    /// "no leader" promptly instead of at the caller's deadline.
    public func waitForLeader(deadline: Duration, now: Duration) -> LeaderWait {
        if raft.status.leader != .none { return .known }
        let until = min(deadline, now + config.tickInterval * config.electionTimeoutTicks)
        guard until > now, leaderWaiters.count < config.pendingProposalsMax, halted == nil else { return .gaveUp }
        let waiterID = nextRequestID()
        leaderWaiters[waiterID] = until
        return .waiting(waiterID)
    }

    /// Writes proposed or forwarded and not yet answered.
    public var pendingProposalCount: Int { proposals.count }
    /// Linearizable reads not yet answered.
    public var pendingReadCount: Int { reads.count }

    func nextRequestID() -> UInt64 {
        lastRequestID &+= 1
        return lastRequestID
    }

    func completeProposal(_ requestID: UInt64, _ result: Result<KVResponse, KeelError>, into out: inout NodeOutput) {
        guard proposals.removeValue(forKey: requestID) != nil else { return }
        if case .failure = result { metrics.proposalFailed() }
        metrics.recordPending(proposals.count)
        out.replies.append(NodeReply(id: requestID, result: result))
    }

    func completeRead(_ readID: UInt64, _ result: Result<KVResponse, KeelError>, into out: inout NodeOutput) {
        guard reads.removeValue(forKey: readID) != nil else { return }
        out.replies.append(NodeReply(id: readID, result: result))
    }

    /// Answers every request whose deadline passed.
    func expireRequests(now: Duration, into out: inout NodeOutput) {
        let leader = raft.status.leader
        for (requestID, proposal) in proposals.sorted(by: { $0.key < $1.key }) where proposal.deadline <= now {
            // The proposal was handed to a leader: it may still commit. Say so.
            completeProposal(requestID, .failure(proposal.leader == leader ? KeelError.timedOut : KeelError.timedOutLeaderLost), into: &out)
        }
        for (readID, read) in reads.sorted(by: { $0.key < $1.key }) where read.deadline <= now && !read.inFlight {
            completeRead(readID, .failure(leader == .none ? KeelError.noLeader : KeelError.readTimedOut), into: &out)
        }
        for (waiterID, until) in leaderWaiters.sorted(by: { $0.key < $1.key }) where until <= now {
            leaderWaiters[waiterID] = nil
            out.leaderWaits.append((waiterID, false))
        }
    }

    /// Answers every request. `writeError` goes to proposals: each was already proposed to (or
    /// forwarded to) a leader, so it may still commit; its caller must not be told "safe to retry".
    public func failAll(_ error: KeelError, writeError: KeelError, into out: inout NodeOutput) {
        for requestID in proposals.keys.sorted() { completeProposal(requestID, .failure(writeError), into: &out) }
        for readID in reads.keys.sorted() { completeRead(readID, .failure(error), into: &out) }
        for waiterID in leaderWaiters.keys.sorted() { out.leaderWaits.append((waiterID, false)) }
        leaderWaiters = [:]
        for requestID in leaseRequests.keys.sorted() { completeLeaseRequest(requestID, .failure(error), into: &out) }
        failMembership(writeError, into: &out)
        lessor.demote()
    }

    /// The leader proposes a follower's write; it answers only when it cannot.
    func acceptForwarded(_ proposal: ForwardedProposal, into out: inout NodeOutput) {
        var refusal: (ProposalRejection.Reason, String)?
        if proposal.data.count > config.maxRequestBytes + EntryEnvelope.headerBytes {
            refusal = (.other, KeelError.requestTooLarge.message)
        } else if EntryEnvelope(decoding: proposal.data) == nil {
            // Every replica would halt on it (an envelope version this node cannot read).
            refusal = (.other, "etcdserver: unsupported entry envelope version")
        } else if raft.status.role != .leader {
            refusal = (.notLeader, "etcdserver: not leader")
        } else {
            do {
                try raft.propose(proposal.data)
            } catch {
                refusal = error.code == .uncommittedLimitExceeded ? (.overloaded, KeelError.tooManyRequests.message) : (.notLeader, "\(error)")
            }
        }
        guard let (reason, message) = refusal else { return }
        out.messages.append(
            .proposalRejected(
                ProposalRejection(
                    from: id, to: proposal.from, requestID: proposal.requestID, reason: reason, leader: raft.status.leader, message: message)))
    }

    func rejected(_ rejection: ProposalRejection, into out: inout NodeOutput) {
        let error: KeelError
        switch rejection.reason {
        case .notLeader: error = KeelError.leaderChanged
        case .overloaded: error = KeelError.tooManyRequests
        case .other: error = KeelError(.unavailable, rejection.message)
        }
        completeProposal(rejection.requestID, .failure(error), into: &out)
    }

    static func map(_ error: RaftError) -> KeelError {
        switch error.code {
        case .uncommittedLimitExceeded, .readIndexLimitExceeded: return KeelError.tooManyRequests
        case .notLeader, .noLeader: return KeelError.noLeader
        case .transferInProgress: return KeelError.leaderChanged
        default: return KeelError(.internal, "etcdserver: raft: \(error)")
        }
    }
}
