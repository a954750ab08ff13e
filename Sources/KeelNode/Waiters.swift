import KeelStorage
import Raft

/// A client write waiting for its entry to be applied on this node.
struct ProposalWaiter {
    var continuation: CheckedContinuation<Result<KVResponse, KeelError>, Never>
    var deadline: ContinuousClock.Instant
    /// The leader the proposal was handed to: if another leads at the deadline, the old one
    /// probably failed.
    var leader: NodeID
}

/// A linearizable read (a Range, or a Txn that writes nothing): waits for its read index, then for
/// the state machine to reach it.
struct ReadWaiter {
    var continuation: CheckedContinuation<Result<KVResponse, KeelError>, Never>
    var request: KVCommand
    var deadline: ContinuousClock.Instant
    /// Known once the leader confirmed it (thesis §6.4 step 3).
    var index: LogIndex?
    /// The tick (``KeelNode/tickCount``) of the last read-index request for it: nothing in the core
    /// or the transport re-sends a lost one, so the node asks again after `readIndexRetryTicks`.
    var askedAtTick: UInt64
    /// Handed to the storage thread, which may serve it now.
    var inFlight = false
}

/// A request waiting for an election in progress to finish, at most until `until`.
struct LeaderWaiter {
    var continuation: CheckedContinuation<Bool, Never>
    var until: ContinuousClock.Instant
}

extension KeelNode {
    func nextRequestID() -> UInt64 {
        lastRequestID &+= 1
        return lastRequestID
    }

    func completeProposal(_ requestID: UInt64, _ result: Result<KVResponse, KeelError>) {
        guard let waiter = proposals.removeValue(forKey: requestID) else { return }
        if case .failure = result { metrics.proposalsFailed.increment() }
        metrics.proposalsPending.record(proposals.count)
        waiter.continuation.resume(returning: result)
    }

    func completeRead(_ readID: UInt64, _ result: Result<KVResponse, KeelError>) {
        guard let waiter = reads.removeValue(forKey: readID) else { return }
        waiter.continuation.resume(returning: result)
    }

    /// Answers every request whose deadline passed.
    func expireWaiters(now: ContinuousClock.Instant) {
        let leader = raft.status.leader
        for (requestID, waiter) in proposals where waiter.deadline <= now {
            // The proposal was handed to a leader: it may still commit. Say so.
            completeProposal(requestID, .failure(waiter.leader == leader ? KeelError.timedOut : KeelError.timedOutLeaderLost))
        }
        for (readID, waiter) in reads where waiter.deadline <= now && !waiter.inFlight {
            completeRead(readID, .failure(leader == .none ? KeelError.noLeader : KeelError.readTimedOut))
        }
        for (waiterID, waiter) in leaderWaiters where waiter.until <= now {
            leaderWaiters[waiterID] = nil
            waiter.continuation.resume(returning: false)
        }
    }

    /// Answers every waiter. `writeError` goes to proposals: each was already proposed to (or
    /// forwarded to) a leader, so it may still commit; its caller must not be told "safe to retry".
    func failAll(_ error: KeelError, writeError: KeelError) {
        for requestID in Array(proposals.keys) { completeProposal(requestID, .failure(writeError)) }
        for readID in Array(reads.keys) { completeRead(readID, .failure(error)) }
        for (_, waiter) in leaderWaiters { waiter.continuation.resume(returning: false) }
        leaderWaiters = [:]
    }

    /// Waits until some node leads, for at most one election timeout and never past `deadline`:
    /// an election in progress usually ends within that; a node cut off from a quorum answers
    /// "no leader" promptly instead of at the caller's deadline.
    func awaitLeader(deadline: ContinuousClock.Instant) async -> Bool {
        if raft.status.leader != .none { return true }
        let until = min(deadline, clock.now + config.tickInterval * config.electionTimeoutTicks)
        guard until > clock.now, leaderWaiters.count < config.pendingProposalsMax else { return false }
        let waiterID = nextRequestID()
        return await withCheckedContinuation { leaderWaiters[waiterID] = LeaderWaiter(continuation: $0, until: until) }
    }

    func checkServing(deadline: ContinuousClock.Instant) throws(KeelError) {
        if let halted { throw halted }
        guard running, !stopped else { throw KeelError.stopped }
        guard deadline > clock.now else { throw KeelError(.deadlineExceeded, "etcdserver: request timed out before it was sent") }
    }
}
