import KeelStorage
import KeelTransport
import Raft

// The client API: etcd's KV calls.

extension KeelNode {
    /// etcd's Range. Linearizable by default: the leader confirms its leadership and names a read
    /// index (thesis §6.4), and the read is served locally once this node applied that far.
    /// `serializable` reads this node's state at once (may be stale).
    public func range(
        _ request: RangeRequest, serializable: Bool, deadline: ContinuousClock.Instant
    ) async throws(KeelError) -> (RangeResponse, ResponseHeader) {
        try checkServing(deadline: deadline)
        try RequestValidation.check(request)
        let response = serializable ? try await serializableRead(.range(request)) : try await linearizableRead(.range(request), deadline: deadline)
        guard case .range(let range) = response else { throw KeelError(.internal, "etcdserver: range answered with \(response)") }
        return (range, header(revision: range.revision))
    }

    /// Serves a Range or a read-only Txn from this node's applied state at once: may be stale, needs
    /// no leader.
    func serializableRead(_ command: KVCommand) async throws(KeelError) -> KVResponse {
        // Each one is a block queued on the storage thread: bounded like the other queues.
        guard serializableReadsInFlight < config.pendingProposalsMax else { throw KeelError.tooManyRequests }
        serializableReadsInFlight += 1
        defer { serializableReadsInFlight -= 1 }
        switch await worker.perform({ try $0.stateMachine.read(command) }) {
        case .success(let response): return response
        case .failure(let error): throw RequestValidation.map(error)
        }
    }

    /// Serves a Range or a read-only Txn at a read index the leader confirmed (thesis §6.4), from
    /// this node's state once it applied that far.
    func linearizableRead(_ command: KVCommand, deadline: ContinuousClock.Instant) async throws(KeelError) -> KVResponse {
        try machine.admitRead()
        guard await awaitLeader(deadline: deadline) else { throw unavailableReason() }
        try checkServing(deadline: deadline)
        var out = NodeOutput()
        let readID = try machine.startLinearizableRead(command, deadline: machineTime(deadline), now: now, into: &out)
        perform(out)
        wakeReadyLoop()
        let result = await withCheckedContinuation { requestWaiters[readID] = $0 }
        return try result.get()
    }

    /// etcd's Put, through the log (forwarded to the leader from a follower).
    public func put(_ request: PutRequest, deadline: ContinuousClock.Instant) async throws(KeelError) -> (PutResponse, ResponseHeader) {
        try await checkQuota(.put(request), deadline: deadline)
        let response = try await submit(.put(request), deadline: deadline)
        guard case .put(let put) = response else { throw KeelError(.internal, "etcdserver: put answered with \(response)") }
        return (put, header(revision: put.revision))
    }

    /// etcd's DeleteRange.
    public func deleteRange(
        _ request: DeleteRangeRequest, deadline: ContinuousClock.Instant
    ) async throws(KeelError) -> (DeleteRangeResponse, ResponseHeader) {
        let response = try await submit(.deleteRange(request), deadline: deadline)
        guard case .deleteRange(let deleted) = response else { throw KeelError(.internal, "etcdserver: delete answered with \(response)") }
        return (deleted, header(revision: deleted.revision))
    }

    /// etcd's Txn. One that writes nothing in either branch is served like a linearizable Range
    /// (read index, then the local state), as etcd does, instead of taking a log entry; with
    /// `serializable` (the client asked it of every range in it), from this node's state at once.
    public func txn(
        _ request: TxnRequest, serializable: Bool = false, deadline: ContinuousClock.Instant
    ) async throws(KeelError) -> (TxnResponse, ResponseHeader) {
        let response: KVResponse
        if request.isReadOnly {
            try checkServing(deadline: deadline)
            // etcd applies its request-size limit to what it proposes, not to reads.
            try RequestValidation.check(.txn(request))
            let command = KVCommand.txn(request)
            response = serializable ? try await serializableRead(command) : try await linearizableRead(command, deadline: deadline)
        } else {
            try await checkQuota(.txn(request), deadline: deadline)
            response = try await submit(.txn(request), deadline: deadline)
        }
        guard case .txn(let txn) = response else { throw KeelError(.internal, "etcdserver: txn answered with \(response)") }
        return (txn, header(revision: txn.revision))
    }

    /// etcd's Compact, through the log so every replica drops the same history. `physical` is
    /// accepted for etcd compatibility: the compaction is complete once applied anyway.
    public func compact(revision: Int64, physical: Bool, deadline: ContinuousClock.Instant) async throws(KeelError) -> ResponseHeader {
        // Only the compacted check is safe on stale local state (it only grows); a future revision
        // is refused when the entry applies, changing nothing.
        guard revision > compactedRevision else { throw KeelError.compacted }
        let response = try await submit(.compact(revision: revision), deadline: deadline)
        guard case .compact(let current) = response else { throw KeelError(.internal, "etcdserver: compact answered with \(response)") }
        return header(revision: current)
    }

    /// Validates, proposes (or forwards to the leader) and waits for the entry to apply here.
    func submit(_ command: KVCommand, deadline: ContinuousClock.Instant) async throws(KeelError) -> KVResponse {
        try checkServing(deadline: deadline)
        let data = try machine.admitWrite(command)
        guard await awaitLeader(deadline: deadline) else {
            metrics.proposalFailed()
            throw unavailableReason()
        }
        try checkServing(deadline: deadline)
        var out = NodeOutput()
        let requestID = try machine.propose(data, deadline: machineTime(deadline), into: &out)
        perform(out)
        wakeReadyLoop()
        let result = await withCheckedContinuation { requestWaiters[requestID] = $0 }
        return try result.get()
    }

    func unavailableReason() -> KeelError {
        if let halted { return halted }
        return stopped || !running ? KeelError.stopped : KeelError.noLeader
    }

    /// Waits until some node leads, for at most one election timeout and never past `deadline`
    /// (``NodeMachine/waitForLeader(deadline:now:)``).
    func awaitLeader(deadline: ContinuousClock.Instant) async -> Bool {
        switch machine.waitForLeader(deadline: machineTime(deadline), now: now) {
        case .known: return true
        case .gaveUp: return false
        case .waiting(let waiterID): return await withCheckedContinuation { leaderWaiters[waiterID] = $0 }
        }
    }

    func checkServing(deadline: ContinuousClock.Instant) throws(KeelError) {
        if let halted { throw halted }
        if removed { throw KeelError.memberRemoved }
        guard running, !stopped else { throw KeelError.stopped }
        guard deadline > clock.now else { throw KeelError(.deadlineExceeded, "etcdserver: request timed out before it was sent") }
    }
}
