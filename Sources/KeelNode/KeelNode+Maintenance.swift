import Dispatch
import KeelStorage
import Raft

// etcd's Maintenance calls other than Status: HashKV and Hash, Alarm with the storage quota,
// Defragment and MoveLeader.

/// What the node knows of its store between samples (``KeelNode/sampleStorage()``): the quota
/// check runs on every write and must not wait for the storage thread.
struct MaintenanceState {
    /// The key-value state's size in RocksDB at the last sample.
    var storedBytes: Int64 = 0
    /// The alarms applied here at the last sample, for Status.
    var alarms: [AlarmMember] = []
    /// Hash and HashKV calls reading their view now.
    var hashesInFlight = 0
    /// Defragment calls waiting for or holding the storage thread.
    var defragmentsInFlight = 0
    /// Whether this member's NOSPACE activation is being proposed: one at a time, however many
    /// writes the quota refuses meanwhile.
    var raisingNoSpace = false
    /// Backups being streamed (``BackupStream``).
    var backupsInFlight = 0
    /// The auto-compaction schedule, when configured.
    var autoCompactor: AutoCompactor?
}

extension KeelNode {
    /// The alarms raised in the cluster, as this member applied them at the last sample (every
    /// 100 ms): `/health` reports the member unhealthy while there is one, as etcd does.
    public var raisedAlarms: [AlarmMember] { maintenance.alarms }

    /// Hash and HashKV computed at once: each scans the whole store off the storage thread.
    static let hashesInFlightMax = 2
    /// Defragment calls queued at once: each holds the storage thread while RocksDB rewrites.
    static let defragmentsInFlightMax = 1
    /// How often the store's size and alarms are sampled for the quota check.
    static let storageSampleInterval: Duration = .milliseconds(100)

    /// etcd's HashKV: a hash of every version at or below `revision` (0: the current revision),
    /// equal on members that applied the same entries (``KeelStorage/KVHasher``).
    public func hashKV(revision: Int64, deadline: ContinuousClock.Instant) async throws(KeelError) -> (KVHash, ResponseHeader) {
        let hasher = try await openHasher(deadline: deadline)
        defer { maintenance.hashesInFlight -= 1 }
        let result = await Self.offStorageThread { try hasher.hashKV(revision: revision) }
        return (try result.mapError(RequestValidation.map).get(), header(revision: hasher.revision))
    }

    /// etcd's Hash: a hash of the whole key-value state, meta records included.
    public func hash(deadline: ContinuousClock.Instant) async throws(KeelError) -> (UInt32, ResponseHeader) {
        let hasher = try await openHasher(deadline: deadline)
        defer { maintenance.hashesInFlight -= 1 }
        let result = await Self.offStorageThread { try hasher.hashAll() }
        return (try result.mapError(RequestValidation.map).get(), header(revision: hasher.revision))
    }

    /// Takes a hash slot and a view of the applied state; the caller gives the slot back.
    private func openHasher(deadline: ContinuousClock.Instant) async throws(KeelError) -> KVHasher {
        try checkServing(deadline: deadline)
        guard maintenance.hashesInFlight < Self.hashesInFlightMax else { throw KeelError.tooManyRequests }
        maintenance.hashesInFlight += 1
        switch await worker.perform({ $0.stateMachine.makeHasher() }) {
        case .success(let hasher): return hasher
        case .failure(let error):
            maintenance.hashesInFlight -= 1
            throw RequestValidation.map(error)
        }
    }

    private static func offStorageThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async -> Result<T, any Error> {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: Result { try body() }) }
        }
    }

    /// etcd's Defragment: this member's store rewritten without the space deletes and compaction
    /// freed. Not replicated (each member defragments its own files), as in etcd.
    public func defragment(deadline: ContinuousClock.Instant) async throws(KeelError) -> ResponseHeader {
        try checkServing(deadline: deadline)
        guard maintenance.defragmentsInFlight < Self.defragmentsInFlightMax else { throw KeelError.tooManyRequests }
        maintenance.defragmentsInFlight += 1
        defer { maintenance.defragmentsInFlight -= 1 }
        switch await worker.perform({ storage in
            try storage.stateMachine.defragment()
            return storage.stateMachine.sizeBytes()
        }) {
        case .success(let bytes): maintenance.storedBytes = bytes
        case .failure(let error): throw RequestValidation.map(error)
        }
        return header(revision: revision)
    }

    /// etcd's Alarm: listed, raised and cleared through the log, so every member holds the same
    /// alarms and refuses the same writes.
    public func alarm(_ request: AlarmRequest, deadline: ContinuousClock.Instant) async throws(KeelError) -> ([AlarmMember], ResponseHeader) {
        let response = try await submit(.alarm(request), deadline: deadline)
        guard case .alarm(let alarms) = response else { throw KeelError(.internal, "etcdserver: alarm answered with \(response)") }
        return (alarms, header(revision: revision))
    }

    /// etcd's quota check before a write is proposed (`quotaKVServer`): a write whose cost would
    /// take the store to `--quota-backend-bytes` raises NOSPACE for this member and is refused
    /// with etcd's "database space exceeded". The capped state machine refuses the same writes on
    /// every member once the alarm applies, whichever member they came through.
    ///
    /// As etcd does, the activation is proposed on every refusal, not only when this member
    /// believes the alarm is down: its view may lag a disarm made through another member, and
    /// raising a raised alarm changes nothing. One proposal at a time bounds the entries a flood
    /// of refused writes can cause.
    func checkQuota(_ command: KVCommand, deadline: ContinuousClock.Instant) async throws(KeelError) {
        guard config.quotaBytes > 0 else { return }
        guard maintenance.storedBytes + Self.quotaCost(command) >= config.quotaBytes else { return }
        if !maintenance.raisingNoSpace {
            maintenance.raisingNoSpace = true
            defer { maintenance.raisingNoSpace = false }
            let activate = AlarmRequest(action: .activate, memberID: id.rawValue, kind: .noSpace)
            _ = try? await alarm(activate, deadline: deadline)
        }
        throw KeelError.noSpace
    }

    /// etcd's quota cost: what a write may add (its keys and values plus a fixed overhead each).
    static func quotaCost(_ command: KVCommand) -> Int64 {
        let overhead: Int64 = 256
        switch command {
        case .put(let put): return Int64(put.key.count + put.value.count) + overhead
        case .txn(let txn):
            let branches = [txn.success, txn.failure].map { ops in
                ops.reduce(Int64(0)) { total, op in
                    if case .put(let put) = op { return total + Int64(put.key.count + put.value.count) + overhead }
                    if case .txn(let inner) = op { return total + quotaCost(.txn(inner)) }
                    return total
                }
            }
            return branches.max() ?? 0
        case .leaseGrant: return overhead
        default: return 0
        }
    }

    /// Refreshes the quota sample; runs every ``storageSampleInterval`` while the node runs.
    func sampleStorage() async {
        guard running, !stopped else { return }
        let result = await worker.perform { storage in (storage.stateMachine.sizeBytes(), storage.stateMachine.alarms) }
        if case .success(let (bytes, alarms)) = result {
            maintenance.storedBytes = bytes
            maintenance.alarms = alarms
        }
    }

    nonisolated func runStorageSampler() async {
        while !Task.isCancelled {
            await sampleStorage()
            do { try await Task.sleep(for: Self.storageSampleInterval) } catch { return }
        }
    }

    /// Polls the auto-compactor as often as the quota is sampled, in its own task: a compaction
    /// waiting on the log must not hold up the quota samples.
    nonisolated func runAutoCompactor() async {
        while !Task.isCancelled {
            await autoCompact()
            do { try await Task.sleep(for: Self.storageSampleInterval) } catch { return }
        }
    }

    /// Proposes the compaction the auto-compactor names, if any (only a leader's names one), and
    /// waits for it: one at a time, so compactions never queue up.
    func autoCompact() async {
        guard running, !stopped, var compactor = maintenance.autoCompactor else { return }
        guard let target = compactor.poll(now: now, revision: revision, isLeader: raft.status.role == .leader) else {
            maintenance.autoCompactor = compactor
            return
        }
        maintenance.autoCompactor = compactor
        let succeeded: Bool
        do {
            _ = try await compact(revision: target, physical: false, deadline: clock.now + config.requestTimeout)
            succeeded = true
        } catch {
            succeeded = error.message == KeelError.compacted.message
            if !succeeded { logger.info("auto-compaction failed", metadata: ["revision": "\(target)", "error": "\(error.message)"]) }
        }
        if succeeded { logger.info("auto-compaction done", metadata: ["revision": "\(target)"]) }
        maintenance.autoCompactor?.finished(revision: target, succeeded: succeeded, now: now)
    }

    /// etcd's MoveLeader: the leader hands leadership to `target` (a voter) through the core's
    /// transfer (thesis §3.10) and answers once `target` leads, or fails when it does not within
    /// the deadline, etcd's errors for each case.
    public func moveLeader(to target: UInt64, deadline: ContinuousClock.Instant) async throws(KeelError) -> ResponseHeader {
        try checkServing(deadline: deadline)
        let status = raft.status
        guard status.role == .leader else { throw KeelError.notLeader }
        let targetID = NodeID(target)
        guard targetID != .none, status.confState.voters.contains(targetID) else { throw KeelError.badLeaderTransferee }
        if targetID == id { return header(revision: revision) }
        do { try machine.transferLeadership(to: targetID) } catch { throw KeelError.badLeaderTransferee }
        wakeReadyLoop()
        while raft.status.leader != targetID {
            guard clock.now < deadline, running, !stopped else { throw KeelError.leaderTransferTimedOut }
            try? await Task.sleep(for: config.tickInterval)
        }
        return header(revision: revision)
    }
}


/// A backup being streamed to a client (etcd's Maintenance.Snapshot): the applied state as of its
/// opening, chunk by chunk (about 256 KiB each, checksummed, a trailer over the whole stream), so
/// memory stays bounded whatever the store's size.
///
/// `@unchecked Sendable`: the writer is made on the storage thread and then used by one task at a
/// time (the stream's), reading through its own RocksDB snapshot, which keeps the database open.
public final class BackupStream: @unchecked Sendable {
    private let writer: SnapshotWriter
    private let release: @Sendable () async -> Void
    private var released = false

    init(writer: SnapshotWriter, release: @escaping @Sendable () async -> Void) {
        self.writer = writer
        self.release = release
    }

    /// The applied index the image was taken at.
    public var appliedIndex: UInt64 { writer.header.appliedIndex.rawValue }

    /// The next chunk, read off the caller's thread; nil once the trailer was returned.
    public func next() async throws(KeelError) -> [UInt8]? {
        let result = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: Result { try self.writer.nextChunk() }) }
        }
        return try result.mapError(RequestValidation.map).get()
    }

    /// Gives the node's backup slot back; call once the stream ends, however it ends.
    public func close() async {
        guard !released else { return }
        released = true
        await release()
    }
}

extension KeelNode {
    /// Backups streamed at once: each holds a RocksDB snapshot, which keeps old files alive.
    static let backupsInFlightMax = 1

    /// Opens a backup of the applied state (``BackupStream``); close it when done.
    public func openBackup(deadline: ContinuousClock.Instant) async throws(KeelError) -> BackupStream {
        try checkServing(deadline: deadline)
        guard maintenance.backupsInFlight < Self.backupsInFlightMax else { throw KeelError.tooManyRequests }
        maintenance.backupsInFlight += 1
        switch await worker.perform({ WriterHandoff(writer: $0.stateMachine.makeSnapshot()) }) {
        case .success(let handoff):
            return BackupStream(writer: handoff.writer) { await self.backupClosed() }
        case .failure(let error):
            maintenance.backupsInFlight -= 1
            throw RequestValidation.map(error)
        }
    }

    private func backupClosed() { maintenance.backupsInFlight -= 1 }
}

/// Carries a new writer off the storage thread.
///
/// `@unchecked Sendable`: the storage thread makes the writer and never touches it again.
private struct WriterHandoff: @unchecked Sendable {
    let writer: SnapshotWriter
}
