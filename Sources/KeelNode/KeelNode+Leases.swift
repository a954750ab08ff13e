import KeelStorage
import KeelTransport
import Raft

// etcd's Lease calls. Grants and revokes go through the log; keepalives and time-to-live are
// answered by the primary lessor, the leader (``NodeMachine/startLeaseRequest(_:leaseID:now:deadline:into:)``).

extension KeelNode {
    /// etcd's LeaseGrant: `id` 0 lets the node choose one; a TTL below the shortest allowed is
    /// raised to it (``NodeConfig/leaseTTLSecondsMin``). Returns the id and the TTL granted.
    public func leaseGrant(id: Int64, ttlSeconds: Int64, deadline: ContinuousClock.Instant) async throws(KeelError) -> (
        id: Int64, ttlSeconds: Int64, header: ResponseHeader
    ) {
        try checkServing(deadline: deadline)
        let command = try machine.admitLeaseGrant(id: id, ttlSeconds: ttlSeconds)
        try await checkQuota(command, deadline: deadline)
        let response = try await submit(command, deadline: deadline)
        guard case .leaseGrant(let granted, let ttl) = response else { throw KeelError(.internal, "etcdserver: lease grant answered with \(response)") }
        return (granted, ttl, header(revision: revision))
    }

    /// etcd's LeaseRevoke: deletes the lease and every key attached to it, in one revision.
    public func leaseRevoke(id: Int64, deadline: ContinuousClock.Instant) async throws(KeelError) -> ResponseHeader {
        let response = try await submit(.leaseRevoke(id: id), deadline: deadline)
        guard case .leaseRevoke(_, let revision) = response else { throw KeelError(.internal, "etcdserver: lease revoke answered with \(response)") }
        return header(revision: revision)
    }

    /// One keepalive: renews the lease at the leader; throws ``KeelError/Code/notFound`` when the
    /// lease is gone (etcd's stream then answers TTL 0).
    public func leaseRenew(id: Int64, deadline: ContinuousClock.Instant) async throws(KeelError) -> (LeaseTimes, ResponseHeader) {
        let times = try await leaseRequest(.renew, id: id, deadline: deadline)
        return (times, header(revision: revision))
    }

    /// etcd's LeaseTimeToLive: the granted and remaining TTL (from the leader), and with `keys`
    /// the keys attached to it (from this node's state, at most `keysLimit`).
    public func leaseTimeToLive(id: Int64, keys: Bool, keysLimit: Int = 10_000, deadline: ContinuousClock.Instant) async throws(KeelError) -> (
        LeaseTimes, [[UInt8]], ResponseHeader
    ) {
        let times = try await leaseRequest(.timeToLive, id: id, deadline: deadline)
        var attached: [[UInt8]] = []
        if keys {
            switch await worker.perform({ try $0.stateMachine.leaseKeys(id, limit: keysLimit) }) {
            case .success(let found): attached = found
            case .failure(let error): throw RequestValidation.map(error)
            }
        }
        return (times, attached, header(revision: revision))
    }

    /// The response header as of this node's applied state.
    public func currentHeader() -> ResponseHeader { header(revision: revision) }

    /// etcd's LeaseLeases: every lease this node applied, in id order.
    public func leases() throws(KeelError) -> ([Int64], ResponseHeader) {
        if let halted { throw halted }
        return (machine.leaseIDs, header(revision: revision))
    }

    func leaseRequest(_ kind: LeaseRequest.Kind, id: Int64, deadline: ContinuousClock.Instant) async throws(KeelError) -> LeaseTimes {
        try checkServing(deadline: deadline)
        guard await awaitLeader(deadline: deadline) else { throw unavailableReason() }
        try checkServing(deadline: deadline)
        var out = NodeOutput()
        let start = try machine.startLeaseRequest(kind, leaseID: id, now: now, deadline: machineTime(deadline), into: &out)
        perform(out)
        wakeReadyLoop()
        switch start {
        case .answered(let result): return try result.get()
        case .waiting(let requestID):
            let result = await withCheckedContinuation { leaseWaiters[requestID] = $0 }
            return try result.get()
        }
    }
}
