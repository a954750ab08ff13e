import KeelNode
import KeelStorage
import Raft
import RaftSimulation

/// The node simulation's judge: checks every message as it leaves a node, every acknowledgement
/// and read as a client receives it, every applied index against the other replicas, and the final
/// state against every acknowledged write.
final class NodeChecker {
    let quorum: Int
    /// The highest revision acknowledged to any client, and per key.
    private var ackedRevision: Int64 = 0
    private var ackedByKey: [[UInt8]: Int64] = [:]
    /// The floor for a linearizable read that begins now: the newest revision acknowledged or
    /// returned by a completed linearizable read, overall and per key.
    private(set) var floorRevision: Int64 = 0
    private var floorByKey: [[UInt8]: Int64] = [:]
    /// The term of the entry at each index of each leader's log, as its appends and probes showed
    /// it (a leader's log only grows within its term, so this never changes).
    private var leaderLogTerms: [Term: [LogIndex: Term]] = [:]
    /// What the acknowledged write at each revision wrote.
    private var ackedWrites: [Int64: (key: [UInt8], value: [UInt8])] = [:]
    /// The state digest after each applied index, as the first replica to apply it had it.
    private var digests: [LogIndex: (digest: Int, node: NodeID)] = [:]
    private var lastAckTime = -1
    /// Values of writes whose clients were told they definitely failed.
    private var failedValues: Set<[UInt8]> = []
    /// TTL leases: the earliest global time each may expire, from the grants and keepalives
    /// acknowledged to clients (sent at t, promised r: not before t + r).
    private var leaseNotBefore: [Int64: Int] = [:]
    /// Leases a client asked to revoke: their revoke is not an expiry.
    private var revokeRequested: Set<Int64> = []
    /// Leases whose revoke some replica applied, and when the first did it for an expiry.
    private var revoked: Set<Int64> = []
    private var expiredAt: [Int64: Int] = [:]

    init(quorum: Int) { self.quorum = quorum }

    func floorRevision(of key: [UInt8]) -> Int64 { floorByKey[key] ?? 0 }

    private func raiseFloor(_ key: [UInt8], _ keyRevision: Int64, _ storeRevision: Int64) {
        floorByKey[key] = max(floorByKey[key] ?? 0, keyRevision)
        floorRevision = max(floorRevision, storeRevision)
    }

    func writesAckedAfter(healTime: Int) -> Bool { lastAckTime >= healTime }

    /// A message may promise only what is on the sender's disk (thesis §3.8 and §10.2.1): every
    /// message but pre-votes carries a term the sender has synced, a vote grant a synced vote, an
    /// append acknowledgement of the current term synced entries through the index it reports.
    func checkSent(_ message: Message, by node: SimNode, run: NodeSimRun) {
        let durable = node.store.durableHardState
        if message.type != .preVote && message.type != .preVoteResponse && message.term > durable.term {
            run.fail(.persistBeforeSend, "n\(node.id) sent \(message.type) of term \(message.term) to n\(message.to) with term \(durable.term) on disk")
            return
        }
        switch message.type {
        case .appendEntries:
            var terms = leaderLogTerms[message.term, default: [:]]
            terms[message.index] = message.logTerm
            for entry in message.entries { terms[entry.index] = entry.term }
            leaderLogTerms[message.term] = terms
        case .installSnapshot:
            // The image must be the state at the snapshot's index, as every replica applied it there.
            guard let snapshot = message.snapshot, snapshot.metadata.index > LogIndex(1) else { break }
            guard let image = MemoryImage(decoding: snapshot.data) else {
                run.fail(.divergence, "n\(node.id) sent a snapshot at \(snapshot.metadata.index) without a readable image (\(snapshot.data.count) bytes)")
                break
            }
            if image.index != snapshot.metadata.index {
                run.fail(.divergence, "n\(node.id) sent the image of index \(image.index) as the snapshot at \(snapshot.metadata.index)")
            } else if let applied = digests[image.index], applied.digest != image.kv.hashValue {
                run.fail(.divergence, "n\(node.id) sent a snapshot at \(image.index) whose image differs from the state replicas applied there")
            }
        case .requestVoteResponse where !message.reject:
            if durable.term == message.term && durable.vote != message.to {
                run.fail(.persistBeforeSend, "n\(node.id) granted its vote in term \(message.term) to n\(message.to) with vote \(durable.vote) on disk")
            }
        case .appendEntriesResponse where !message.reject:
            // An acknowledgement of an older term may trail a newer leader's truncation that was
            // written with it: the entries were in this node's log when it answered, and a leader of
            // a later term replaced them (§5.3), exactly as if the answer had left first.
            guard durable.term == message.term, node.store.durableSnapshotIndex < message.index else { break }
            let onDisk = node.store.durableTerm(at: message.index)
            let sent = leaderLogTerms[message.term]?[message.index]
            if onDisk == nil || (sent != nil && onDisk != sent) {
                run.fail(
                    .persistBeforeSend,
                    "n\(node.id) acknowledged entries through \(message.index) (term \(sent?.description ?? "?")) to n\(message.to) "
                        + "with \(onDisk.map { "term \($0)" } ?? "nothing") there on disk (last index \(node.store.durableLastIndex))")
            }
        default: break
        }
    }

    /// A write was acknowledged: a quorum must hold its entry on disk (it was committed), and it
    /// becomes a floor for every later read.
    func acknowledged(key: [UInt8], value: [UInt8], revision: Int64, origin: SimNode, run: NodeSimRun) {
        guard let entry = origin.store.revisionEntries[revision] else {
            run.fail(.ackBeforeDurable, "n\(origin.id) acknowledged revision \(revision), which it never applied")
            return
        }
        let holders = run.nodes.filter { node in
            node.store.durableSnapshotIndex >= entry.index || node.store.durableTerm(at: entry.index) == entry.term
        }
        if holders.count < quorum {
            run.fail(
                .ackBeforeDurable,
                "n\(origin.id) acknowledged the write at revision \(revision) (entry \(entry.index), term \(entry.term)) held durably by \(holders.map { "n\($0.id)" }) only")
        }
        if let earlier = ackedWrites[revision], earlier.key != key || earlier.value != value {
            run.fail(.divergence, "revision \(revision) acknowledged for two different writes")
        }
        ackedWrites[revision] = (key, value)
        ackedByKey[key] = max(ackedByKey[key] ?? 0, revision)
        ackedRevision = max(ackedRevision, revision)
        raiseFloor(key, revision, revision)
        lastAckTime = run.time
    }

    /// A write's client was told it failed, and not that its outcome is unknown: it must never apply.
    func failedDefinitely(value: [UInt8]) { failedValues.insert(value) }

    /// A read returned `range`: the value must be what the write at its revision wrote, and a
    /// linearizable read must be at least as new as every write acknowledged before it began.
    func read(_ operation: SimClient.Operation, _ range: RangeResponse, linearizable: Bool, by node: SimNode, run: NodeSimRun) {
        let kv = range.kvs.first
        if let kv, let written = ackedWrites[kv.modRevision], written.key != kv.key || written.value != kv.value {
            run.fail(.divergence, "n\(node.id) read \(String(decoding: kv.value, as: UTF8.self)) at revision \(kv.modRevision), which wrote \(String(decoding: written.value, as: UTF8.self))")
        }
        if let kv, failedValues.contains(kv.value) {
            run.fail(.appliedAfterFailure, "n\(node.id) read \(String(decoding: kv.value, as: UTF8.self)), a write whose client was told it failed")
        }
        guard linearizable else { return }
        let modRevision = kv?.modRevision ?? 0
        if modRevision < operation.keyFloorAtStart || range.revision < operation.floorAtStart {
            run.fail(
                .staleRead,
                "n\(node.id) read \(String(decoding: operation.key, as: UTF8.self)) at mod revision \(modRevision) (store revision \(range.revision)); "
                    + "revision \(operation.keyFloorAtStart) of that key (\(operation.floorAtStart) overall) was acknowledged or read before the read began")
        }
        // Later reads must not go back before what this one saw.
        raiseFloor(operation.key, modRevision, range.revision)
    }

    /// Replicas must hold identical states after applying the same index (State Machine Safety).
    func recordApplied(_ applied: [(index: LogIndex, digest: Int)], node: NodeID, run: NodeSimRun) {
        for (index, digest) in applied {
            if let first = digests[index] {
                if first.digest != digest {
                    run.fail(.divergence, "n\(node) and n\(first.node) hold different states after applying index \(index)")
                }
            } else {
                digests[index] = (digest, node)
            }
        }
    }

    /// Every acknowledged write survives: the converged state holds each key at a revision at least
    /// its last acknowledged one.
    func checkFinal(_ state: MemoryKV, run: NodeSimRun) {
        for kv in state.keys.values.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) where failedValues.contains(kv.value) {
            run.fail(.appliedAfterFailure, "the converged state holds \(String(decoding: kv.value, as: UTF8.self)), a write whose client was told it failed")
        }
        if state.revision < ackedRevision {
            run.fail(.lostWrite, "revision \(ackedRevision) was acknowledged; the converged state is at revision \(state.revision)")
        }
        for (key, revision) in ackedByKey.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            let held = state.keys[key]?.modRevision ?? 0
            if held < revision {
                run.fail(.lostWrite, "\(String(decoding: key, as: UTF8.self)) was acknowledged at revision \(revision); the converged state has it at \(held)")
            }
        }
        // Every acknowledged write is what the replicas applied at its revision (a lost write later
        // overwritten on the same key leaves the per-key check above satisfied).
        for (revision, write) in ackedWrites.sorted(by: { $0.key < $1.key }) {
            let applied = run.nodes.compactMap { $0.store.revisionWrites[revision] }
            if applied.isEmpty {
                run.fail(.lostWrite, "no replica applied the write acknowledged at revision \(revision)")
            } else if applied.contains(where: { $0.key != write.key || $0.value != write.value }) {
                run.fail(.lostWrite, "a replica applied another write at revision \(revision), acknowledged as \(String(decoding: write.value, as: UTF8.self))")
            }
        }
    }

    // MARK: TTL leases

    /// A grant or keepalive sent at `sentAt` was acknowledged with `remainingMilliseconds` left:
    /// the lease must not expire before then (README, "Leases": no earlier than t + TTL). A
    /// keepalive sent after the lease visibly expired must not have renewed it.
    func leaseRenewed(_ id: Int64, remainingMilliseconds: Int64, sentAt: Int, run: NodeSimRun) {
        if let expired = expiredAt[id], sentAt >= expired {
            run.fail(.leaseRenewedAfterExpiry, "lease \(id) expired at \(expired) ms, yet a keepalive sent at \(sentAt) ms renewed it")
        }
        leaseNotBefore[id] = max(leaseNotBefore[id] ?? 0, sentAt + Int(remainingMilliseconds))
    }

    /// A client asked to revoke lease `id`.
    func clientRevoking(_ id: Int64) { revokeRequested.insert(id) }

    /// A replica applied the revoke of lease `id` (its keys are gone there from now on). The first
    /// such apply of a lease no client revoked is its expiry, and must not come early.
    func revokeApplied(_ id: Int64, by node: SimNode, run: NodeSimRun) {
        guard revoked.insert(id).inserted, !revokeRequested.contains(id) else { return }
        expiredAt[id] = run.time
        run.result.leasesExpired += 1
        if let notBefore = leaseNotBefore[id], run.time < notBefore {
            run.fail(
                .leaseExpiredEarly,
                "n\(node.id) applied the expiry of lease \(id) at \(run.time) ms; a grant or keepalive acknowledged to a client promised it until \(notBefore) ms")
        }
    }
}
