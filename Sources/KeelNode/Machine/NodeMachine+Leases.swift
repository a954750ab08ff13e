import KeelStorage
import KeelTransport
import Raft

// Leases: grants and revokes go through the log like writes; keepalives and time-to-live are
// answered by the primary lessor (the leader, see ``Lessor``), forwarded there from followers.

/// A lease's times as the primary answered them.
public struct LeaseTimes: Sendable, Hashable {
    /// The TTL it was granted, in seconds.
    public var grantedSeconds: Int64
    /// What is left, in milliseconds.
    public var remainingMilliseconds: Int64

    /// What is left in whole seconds, rounded down as etcd's lessor does.
    public var remainingSeconds: Int64 { remainingMilliseconds / 1000 }
}

/// The outcome of a keepalive or time-to-live request.
public struct LeaseReply: Sendable {
    /// The request's id (from ``NodeMachine/startLeaseRequest(_:leaseID:now:deadline:into:)``).
    public var id: UInt64
    /// The lease's times, or why there are none (``KeelError/leaseNotFound`` when it is gone).
    public var result: Result<LeaseTimes, KeelError>
}

/// A keepalive or time-to-live waiting for the primary.
struct PendingLeaseRequest {
    enum Origin {
        case local
        /// A follower's request: the answer goes back as a message.
        case remote(NodeID, requestID: UInt64)
    }

    enum State: Equatable {
        /// This node leads but is not primary yet (it has entries of earlier terms to apply).
        case waitingPrimary
        /// A renewal waiting for the lease's reset to apply.
        case waitingReset
        /// Forwarded to this leader.
        case forwarded(NodeID)
    }

    var kind: LeaseRequest.Kind
    var leaseID: Int64
    var deadline: Duration
    var origin: Origin
    var state: State
}

extension NodeMachine {
    /// What ``startLeaseRequest(_:leaseID:now:deadline:into:)`` did.
    public enum LeaseRequestStart: Sendable {
        /// Answered at once.
        case answered(Result<LeaseTimes, KeelError>)
        /// The answer comes as a ``LeaseReply`` in a later output.
        case waiting(UInt64)
    }

    /// The grant command for a client's LeaseGrant: an id chosen when the client gave none, the
    /// TTL raised to the shortest allowed (as etcd does), refused beyond the limits.
    public func admitLeaseGrant(id requested: Int64, ttlSeconds: Int64) throws(KeelError) -> KVCommand {
        guard ttlSeconds <= LeaseLimits.ttlSecondsMax else { throw KeelError(.outOfRange, "etcdserver: too large lease TTL") }
        guard requested >= 0 else { throw KeelError(.invalidArgument, "etcdserver: lease id must be positive, got \(requested)") }
        guard lessor.leases.count < config.leasesMax else {
            throw KeelError(.resourceExhausted, "etcdserver: too many leases: this cluster holds \(lessor.leases.count), the most it may")
        }
        var id = requested
        while id == 0 || (requested == 0 && lessor.leases[id] != nil) {
            // Member bits on top keep members from choosing the same id; the request counter starts
            // at random in each life of the node.
            id = Int64(bitPattern: (self.id.rawValue & 0x7FFF) << 48 | (nextRequestID() & 0xFFFF_FFFF_FFFF))
        }
        if requested != 0, lessor.leases[requested] != nil { throw KeelError(.failedPrecondition, "etcdserver: lease already exists") }
        return .leaseGrant(id: id, ttlSeconds: max(ttlSeconds, config.leaseTTLSecondsMin))
    }

    /// Leases this node knows (as applied here), in id order.
    public var leaseIDs: [Int64] { lessor.leases.keys.sorted() }

    /// Whether this node is the primary lessor (leads, and applied every entry of earlier terms).
    public var isPrimaryLessor: Bool { lessor.isPrimary }

    /// Renews a lease (a keepalive) or asks its remaining time, at the primary: here, or forwarded
    /// to the leader.
    public func startLeaseRequest(
        _ kind: LeaseRequest.Kind, leaseID: Int64, now: Duration, deadline: Duration, into out: inout NodeOutput
    ) throws(KeelError) -> LeaseRequestStart {
        if let halted { throw halted }
        guard leaseRequests.count < config.pendingProposalsMax else { throw KeelError.tooManyRequests }
        let leader = raft.status.leader
        guard leader != .none else { throw KeelError.noLeader }
        if leader != id {
            let requestID = nextRequestID()
            out.messages.append(.leaseRequest(LeaseRequest(from: id, to: leader, requestID: requestID, kind: kind, leaseID: leaseID)))
            leaseRequests[requestID] = PendingLeaseRequest(kind: kind, leaseID: leaseID, deadline: deadline, origin: .local, state: .forwarded(leader))
            return .waiting(requestID)
        }
        if let answer = answerLease(kind, leaseID: leaseID, now: now, into: &out) { return .answered(answer) }
        let requestID = nextRequestID()
        leaseRequests[requestID] = PendingLeaseRequest(
            kind: kind, leaseID: leaseID, deadline: deadline, origin: .local, state: lessor.isPrimary ? .waitingReset : .waitingPrimary)
        return .waiting(requestID)
    }

    /// Answers at once when it can; nil when the request must wait (for promotion or a reset).
    private func answerLease(_ kind: LeaseRequest.Kind, leaseID: Int64, now: Duration, into out: inout NodeOutput) -> Result<LeaseTimes, KeelError>? {
        guard lessor.isPrimary else { return nil }
        // A grant a follower applied and acknowledged may be committed but not yet applied here.
        if lessor.leases[leaseID] == nil, raft.status.commit > appliedIndex { return nil }
        switch kind {
        case .timeToLive:
            guard let times = lessor.timeToLive(leaseID, now: now) else { return .failure(KeelError.leaseNotFound) }
            return .success(LeaseTimes(grantedSeconds: times.grantedSeconds, remainingMilliseconds: Lessor.milliseconds(times.remaining)))
        case .renew:
            switch lessor.renew(leaseID, now: now) {
            case .renewed(let ttl):
                metrics.leaseKeepalives.increment()
                return .success(LeaseTimes(grantedSeconds: ttl, remainingMilliseconds: ttl * 1000))
            case .notFound:
                return .failure(KeelError.leaseNotFound)
            case .notPrimary:
                return nil
            case .needsReset:
                if !lessor.resetPending(leaseID) {
                    guard proposeInternal(.leaseCheckpoint([LeaseCheckpoint(id: leaseID, remainingMilliseconds: nil)])) else {
                        return .failure(KeelError.tooManyRequests)
                    }
                    lessor.resetProposed(leaseID)
                }
                return nil
            }
        }
    }

    /// A follower's lease request, at (what it thinks is) the leader.
    func acceptLeaseRequest(_ request: LeaseRequest, now: Duration, into out: inout NodeOutput) {
        func answer(_ status: LeaseAnswer.Status, _ times: LeaseTimes? = nil) {
            out.messages.append(
                .leaseAnswer(
                    LeaseAnswer(
                        from: id, to: request.from, requestID: request.requestID, status: status, grantedSeconds: times?.grantedSeconds ?? 0,
                        remainingMilliseconds: times?.remainingMilliseconds ?? 0)))
        }
        guard raft.status.role == .leader else { return answer(.notLeader) }
        if let result = answerLease(request.kind, leaseID: request.leaseID, now: now, into: &out) {
            switch result {
            case .success(let times): answer(.ok, times)
            case .failure(let error): answer(error.code == .notFound ? .notFound : .overloaded)
            }
            return
        }
        guard leaseRequests.count < config.pendingProposalsMax else { return answer(.overloaded) }
        // The follower's own deadline answers its client; this one only bounds the entry here.
        leaseRequests[nextRequestID()] = PendingLeaseRequest(
            kind: request.kind, leaseID: request.leaseID, deadline: now + config.electionTimeout * 2,
            origin: .remote(request.from, requestID: request.requestID), state: lessor.isPrimary ? .waitingReset : .waitingPrimary)
    }

    /// The leader's answer to a request this node forwarded.
    func leaseAnswered(_ answer: LeaseAnswer, into out: inout NodeOutput) {
        guard let pending = leaseRequests[answer.requestID], case .forwarded = pending.state else { return }
        let result: Result<LeaseTimes, KeelError>
        switch answer.status {
        case .ok: result = .success(LeaseTimes(grantedSeconds: answer.grantedSeconds, remainingMilliseconds: answer.remainingMilliseconds))
        case .notFound: result = .failure(KeelError.leaseNotFound)
        case .notLeader: result = .failure(KeelError.leaderChanged)
        case .overloaded: result = .failure(KeelError.tooManyRequests)
        }
        completeLeaseRequest(answer.requestID, result, into: &out)
    }

    func completeLeaseRequest(_ requestID: UInt64, _ result: Result<LeaseTimes, KeelError>, into out: inout NodeOutput) {
        guard let pending = leaseRequests.removeValue(forKey: requestID) else { return }
        switch pending.origin {
        case .local:
            out.leaseReplies.append(LeaseReply(id: requestID, result: result))
        case .remote(let follower, let followerRequestID):
            let status: LeaseAnswer.Status
            var times: LeaseTimes?
            switch result {
            case .success(let answered): (status, times) = (.ok, answered)
            case .failure(let error) where error.code == .notFound: status = .notFound
            case .failure(let error) where error.code == .resourceExhausted: status = .overloaded
            case .failure: status = .notLeader
            }
            out.messages.append(
                .leaseAnswer(
                    LeaseAnswer(
                        from: id, to: follower, requestID: followerRequestID, status: status, grantedSeconds: times?.grantedSeconds ?? 0,
                        remainingMilliseconds: times?.remainingMilliseconds ?? 0)))
        }
    }

    /// Answers the waiting requests that can be answered now (after a promotion or a reset).
    func serveWaitingLeaseRequests(now: Duration, into out: inout NodeOutput) {
        guard lessor.isPrimary else { return }
        for (requestID, pending) in leaseRequests.sorted(by: { $0.key < $1.key }) {
            switch pending.state {
            case .forwarded: continue
            case .waitingReset where lessor.resetPending(pending.leaseID): continue
            case .waitingPrimary, .waitingReset:
                if let result = answerLease(pending.kind, leaseID: pending.leaseID, now: now, into: &out) {
                    completeLeaseRequest(requestID, result, into: &out)
                } else {
                    leaseRequests[requestID]?.state = .waitingReset
                }
            }
        }
    }

    /// Leadership moved: requests forwarded to another leader, and those waiting to be primary
    /// here, fail fast (a keepalive client retries at once).
    func leaseLeaderChanged(_ leader: NodeID, into out: inout NodeOutput) {
        // A new leader, or this one in a new term: the next primary judges every lease anew. As
        // leader, the core appended its first entry of the term just now (observeLeader runs after
        // every step), so applying that far applies every entry of earlier terms.
        lessor.demote()
        primaryFrom = leader == id ? raft.status.lastIndex : nil
        for (requestID, pending) in leaseRequests.sorted(by: { $0.key < $1.key }) {
            switch pending.state {
            case .forwarded(let to) where to == leader: continue
            case .waitingPrimary where leader == id, .waitingReset where leader == id:
                leaseRequests[requestID]?.state = .waitingPrimary
            default: completeLeaseRequest(requestID, .failure(KeelError.leaderChanged), into: &out)
            }
        }
    }

    /// Promotion once every entry of earlier terms applied, then the timers: expiries become
    /// revokes, due checkpoints one checkpoint entry.
    func runLessor(now: Duration, into out: inout NodeOutput) {
        if !lessor.isPrimary, raft.status.role == .leader, let from = primaryFrom, appliedIndex >= from {
            lessor.promote(now: now)
            serveWaitingLeaseRequests(now: now, into: &out)
        }
        guard lessor.isPrimary else { return }
        let (revoke, checkpoint) = lessor.due(
            now: now, revokeLimit: config.leaseRevokesPerTick, revokeRetry: config.electionTimeout * 2,
            checkpointLimit: config.leaseCheckpointsPerTick)
        for leaseID in revoke {
            if proposeInternal(.leaseRevoke(id: leaseID)) {
                if lessor.expiryProposed(leaseID) { metrics.leasesExpired.increment() }
            } else {
                lessor.revokeDropped(leaseID, now: now)
            }
        }
        if !checkpoint.isEmpty, !proposeInternal(.leaseCheckpoint(checkpoint)) { lessor.checkpointsDropped(checkpoint) }
        metrics.leaseCheckpointLag.recordSeconds(lessor.checkpointLag(now: now))
    }

    /// What the applied entries did to leases.
    func leasesApplied(_ events: [LeaseEvent], reloaded: [LeaseRecord]?, now: Duration, into out: inout NodeOutput) {
        if let reloaded { lessor.load(reloaded, now: now) }
        for event in events {
            switch event {
            case .granted(let id, let ttl):
                lessor.granted(id: id, ttlSeconds: ttl, now: now)
                metrics.leasesGranted.increment()
            case .revoked(let id):
                lessor.revoked(id: id)
                metrics.leasesRevoked.increment()
            case .checkpointed(let applied):
                lessor.checkpointed(applied)
            }
        }
        if !leaseRequests.isEmpty { serveWaitingLeaseRequests(now: now, into: &out) }
    }

    /// Proposes a command of the node's own (a revoke, a checkpoint) whose result nobody waits for.
    func proposeInternal(_ command: KVCommand) -> Bool {
        guard raft.status.role == .leader else { return false }
        let envelope = EntryEnvelope(origin: id, requestID: nextRequestID(), command: command.encoded()).encoded()
        do {
            try raft.propose(envelope)
            return true
        } catch {
            return false
        }
    }

    /// Answers every lease request whose deadline passed.
    func expireLeaseRequests(now: Duration, into out: inout NodeOutput) {
        for (requestID, pending) in leaseRequests.sorted(by: { $0.key < $1.key }) where pending.deadline <= now {
            completeLeaseRequest(requestID, .failure(KeelError.readTimedOut), into: &out)
        }
    }
}
