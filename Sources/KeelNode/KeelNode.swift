import KeelStorage
import KeelTransport
import Logging
import Raft

/// One replicated node: the single serial owner of its Raft core (this actor), its storage (through
/// a ``StorageWorker`` thread) and its side of the peer network.
///
/// Work flows in three loops started by ``start()``: a ticker driven by a monotonic clock, the
/// consumer of peer events, and the Ready loop (persist, send, apply, advance). Client calls
/// (``put(_:deadline:)``, ``range(_:serializable:deadline:)``...) propose into the core and wait
/// for the entry to be applied, each bounded by its deadline.
public actor KeelNode {
    /// This member's id.
    public nonisolated let id: NodeID
    /// The cluster's id.
    public nonisolated let clusterID: UInt64
    /// The node's watchers, fed by every change this member applies (leader or follower).
    public nonisolated let watchHub: WatchHub

    let config: NodeConfig
    let network: any PeerNetwork
    let logger: Logger
    /// Every decision: this actor only performs what it asks (``NodeMachine``).
    let machine: NodeMachine
    var raft: RaftNode { machine.raft }
    let worker: StorageWorker
    /// Shared with the machine: one set of counters per node.
    let metrics: NodeMetrics
    let clock = ContinuousClock()
    /// The machine's time is an offset from this instant.
    let origin: ContinuousClock.Instant

    /// Callers waiting for a write or a linearizable read, by the machine's request id.
    var requestWaiters: [UInt64: CheckedContinuation<Result<KVResponse, KeelError>, Never>] = [:]
    /// Callers waiting for a leader, by the machine's waiter id.
    var leaderWaiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
    /// Keepalives and time-to-live requests waiting for the primary lessor's answer.
    var leaseWaiters: [UInt64: CheckedContinuation<Result<LeaseTimes, KeelError>, Never>] = [:]
    /// Serializable reads queued on the storage thread. Bounded by `pendingProposalsMax`.
    var serializableReadsInFlight = 0
    /// The quota sample and the maintenance calls in flight (``KeelNode/checkQuota(_:deadline:)``).
    var maintenance = MaintenanceState()
    /// What peers told us about themselves; only members are kept.
    var peerAttributes: [NodeID: MemberAttributes] = [:]
    /// Callers waiting for a membership change to apply here, by the machine's request id.
    var memberWaiters: [UInt64: CheckedContinuation<Result<Void, KeelError>, Never>] = [:]
    /// Set once an applied change removed this member: it refuses everything from then on.
    var removed = false
    /// Waiting for ``removed`` (the server exits then).
    var removalWaiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    var removalWaitCount: UInt64 = 0

    var running = false
    var stopped = false
    var halted: KeelError? { machine.halted }
    var tasks: [Task<Void, Never>] = []
    var readyTask: Task<Void, Never>?
    var readyWakeup: CheckedContinuation<Void, Never>?
    /// Test hook: runs on the storage thread before entries are written (a slow disk).
    var beforeAppend: (@Sendable () -> Void)?

    func setBeforeAppend(_ hook: (@Sendable () -> Void)?) { beforeAppend = hook }

    /// The image being read, if any (at most one at a time).
    var imageTask: Task<Void, Never>?
    /// Test hook: runs on the image queue before reading (a large state machine).
    var beforeImageRead: (@Sendable () -> Void)?

    func setBeforeImageRead(_ hook: (@Sendable () -> Void)?) { beforeImageRead = hook }

    /// Ready cycles that wrote (and fsynced) the Raft log: with group commit, fewer than the writes
    /// they carried.
    public var syncedWriteCount: Int { machine.syncedWriteCount }
    /// Snapshots this node took of its own state machine (each is compacted to once
    /// `snapshotCatchUpEntries` more entries applied).
    public var snapshotsTaken: Int { machine.snapshotsTaken }
    /// Times this node compacted its log (core and storage) to one of its snapshots.
    public var logCompactions: Int { machine.logCompactions }
    /// Snapshots held back for want of an image (tests check the restart path is taken).
    var snapshotsHeldBack: Int { machine.snapshotsHeldBack }
    /// Snapshots this node installed from a leader.
    public var snapshotsInstalled: Int { machine.snapshotsInstalled }
    var appliedIndex: LogIndex { machine.appliedIndex }
    var revision: Int64 { machine.revision }
    var compactedRevision: Int64 { machine.compactedRevision }

    /// Client writes waiting for their outcome (at most `pendingProposalsMax`).
    public var pendingProposalCount: Int { machine.pendingProposalCount }

    /// Opens (or creates) the data directory, checks it belongs to this cluster and member
    /// (``KeelError/Code/failedPrecondition`` otherwise), restores the Raft state. Does not tick yet.
    public init(config: NodeConfig, network: any PeerNetwork, logger: Logger) throws(KeelError) {
        guard config.members.contains(where: { $0.id == config.selfID }) else {
            throw KeelError(.failedPrecondition, "member \(DataDirectory.hex(config.selfID.rawValue)) (\(config.name)) is not in the initial cluster")
        }
        guard config.electionTimeoutTicks >= Self.electionTimeoutTicksMin else {
            throw KeelError(
                .failedPrecondition,
                "election timeout of \(config.electionTimeoutTicks) ticks is too short (at least \(Self.electionTimeoutTicksMin))")
        }
        guard config.leaseClockDriftBoundTicks >= 0, config.leaseClockDriftBoundTicks + 1 < config.electionTimeoutTicks else {
            throw KeelError(
                .failedPrecondition,
                "a lease clock-drift bound of \(config.leaseClockDriftBoundTicks) ticks leaves no leader lease within an election timeout of \(config.electionTimeoutTicks) ticks")
        }
        try DataDirectory.claim(config.dataDirectory, clusterID: config.clusterID, memberID: config.selfID)
        if DataDirectory.isMarkedRemoved(config.dataDirectory) { throw KeelError.memberRemoved }
        var options = StorageOptions()
        options.valueBytesMax = config.maxRequestBytes
        options.keysPerLeaseMax = config.keysPerLeaseMax
        let path = config.dataDirectory + "/" + DataDirectory.databaseFolder
        let storage: NodeStorage
        let restored: RestoredState
        let imageMissing: Bool
        let leases: [LeaseRecord]
        do {
            storage = try NodeStorage(directory: path, options: options)
            if DataDirectory.isFresh(storage) && config.isNewCluster {
                let voters = config.members.filter { !$0.isLearner }.map(\.id)
                if let backup = config.restoreFrom {
                    try DataDirectory.restore(storage, from: backup, voters: voters)
                    // The backup carries the old cluster's members; this cluster has its own.
                    try storage.stateMachine.recordMembers(MemberRegistry(configured: config.members).encoded())
                } else {
                    try DataDirectory.bootstrap(storage, voters: voters)
                }
            }
            if try storage.stateMachine.members() == nil {
                // Founding members (or data written before members were recorded): from the
                // configuration every member started with; a joining member's come from the cluster.
                try storage.stateMachine.recordMembers(MemberRegistry(configured: config.members).encoded())
            }
            (restored, imageMissing) = try NodeMachine.restore(from: storage)
            leases = try storage.leases()
        } catch {
            throw KeelError(.failedPrecondition, "cannot open the storage in \(path): \(error)")
        }
        let metrics = NodeMetrics()
        self.metrics = metrics
        // Random first request id: ids of an earlier life of this node may still be in the log being replayed.
        machine = NodeMachine(
            config: config, restored: restored, coreImageMissing: imageMissing, store: storage,
            firstRequestID: UInt64.random(in: 1...(UInt64.max >> 1)), random: SystemRandomNumberGenerator(), logger: logger,
            metrics: metrics)
        machine.loadLeases(leases, now: .zero)

        watchHub = WatchHub(
            revision: storage.stateMachine.revision, compactedRevision: storage.stateMachine.compactedRevision,
            limits: config.watchLimits)
        // Set before the storage thread exists; from then on only that thread applies.
        storage.stateMachine.observer = watchHub
        id = config.selfID
        clusterID = config.clusterID
        self.config = config
        self.network = network
        self.logger = logger
        worker = StorageWorker(storage: storage)
        origin = clock.now
        logger.info(
            "keel node restored",
            metadata: [
                "member": "\(DataDirectory.hex(config.selfID.rawValue))", "applied": "\(restored.applied)",
                "term": "\(restored.hardState.term)", "entries": "\(restored.entries.count)",
            ])
    }

    /// The machine's time: the monotonic clock since this node was created.
    var now: Duration { clock.now - origin }

    /// `instant` on the machine's time line.
    func machineTime(_ instant: ContinuousClock.Instant) -> Duration { instant - origin }

    /// Starts the tick loop (monotonic clock), the Ready loop and consumption of `network.events`.
    public func start() {
        guard !running, !stopped else { return }
        running = true
        // The members as applied, not as first configured: some may have joined, left or moved.
        sendToPeers(of: machine.members)
        if machine.needsRestartImage { readRestartImage() }
        readyTask = Task { await self.runReadyLoop() }
        let interval = config.tickInterval
        let origin = origin
        tasks.append(Task { await self.runTicker(interval: interval, origin: origin) })
        let events = network.events
        tasks.append(Task { await self.consume(events) })
        maintenance.autoCompactor = config.autoCompaction.map { AutoCompactor(policy: $0) }
        tasks.append(Task { await self.runStorageSampler() })
        if maintenance.autoCompactor != nil { tasks.append(Task { await self.runAutoCompactor() }) }
    }

    /// Hands leadership to another voter if this node leads (bounded by one election timeout),
    /// then stops ticking and closes the storage once the Ready being written is done. Waiting reads
    /// fail with `.unavailable("etcdserver: server stopped")`; waiting writes with `.unknownOutcome`,
    /// since each was already proposed to (or forwarded to) a leader that may still commit it.
    public func stop() async {
        guard !stopped else { return }
        await handOffLeadership()
        guard !stopped else { return }
        stopped = true
        running = false
        for task in tasks { task.cancel() }
        tasks = []
        wakeReadyLoop()
        await readyTask?.value
        readyTask = nil
        // The image reader holds the database open: let it finish before closing.
        await imageTask?.value
        var out = NodeOutput()
        machine.failAll(KeelError.stopped, writeError: KeelError.stoppedOutcomeUnknown, into: &out)
        perform(out)
        await worker.close()
        watchHub.closeAll()
        logger.info("keel node stopped", metadata: ["member": "\(DataDirectory.hex(id.rawValue))"])
    }

    /// A leader that stops hands leadership to another voter first (thesis §3.10, as etcd does on
    /// shutdown), so the cluster does not wait an election timeout for a new leader. Gives up after
    /// one election timeout (the target may be down); requests keep being served meanwhile.
    func handOffLeadership() async {
        let status = raft.status
        guard running, halted == nil, status.role == .leader else { return }
        guard let target = status.confState.voters.filter({ $0 != id }).sorted().first else { return }
        do { try machine.transferLeadership(to: target) } catch { return }
        wakeReadyLoop()
        let giveUp = clock.now + config.tickInterval * config.electionTimeoutTicks
        while clock.now < giveUp, raft.status.leader == id, running {
            try? await Task.sleep(for: config.tickInterval)
        }
        logger.info(
            "leadership handed off on stop",
            metadata: ["member": "\(DataDirectory.hex(id.rawValue))", "leader": "\(DataDirectory.hex(raft.status.leader.rawValue))"])
    }

    /// Fires one `tick()` per whole tick period elapsed on the monotonic clock. A late wake-up (a
    /// stall, a busy executor) fires every tick it missed: leases and elections count ticks, so
    /// coalescing them would make this node's clock run slow (core note on lease reads).
    ///
    /// The machine counts the ticks itself (``NodeMachine/advanceClock(to:into:)``: one per period
    /// since `origin`), so a read served before this task runs again (after a pause) fires the
    /// missed ticks first and judges a leader lease by the clock, not by a stale tick count.
    nonisolated func runTicker(interval: Duration, origin: ContinuousClock.Instant) async {
        let clock = ContinuousClock()
        while !Task.isCancelled {
            let next = ((clock.now - origin) / interval).rounded(.down) + 1
            do { try await clock.sleep(until: origin + interval * next, tolerance: nil) } catch { return }
            await advanceClock()
        }
    }

    func advanceClock() {
        guard running, halted == nil else { return }
        var out = NodeOutput()
        machine.advanceClock(to: now, into: &out)
        perform(out)
        wakeReadyLoop()
    }

    /// The leader this member knows, `.none` while it knows none: what health checks ask, often,
    /// without the database-size walk of ``status()``.
    public var knownLeader: NodeID { raft.status.leader }

    /// This node's status (etcd's Maintenance.Status).
    public func status() -> NodeStatus {
        let status = raft.status
        var errors: [String] = []
        if status.leader == .none { errors.append(KeelError.noLeader.message) }
        if let halted { errors.append(halted.message) }
        return NodeStatus(
            header: header(revision: revision), leader: status.leader, raftIndex: status.lastIndex.rawValue,
            raftTerm: status.term.rawValue, raftAppliedIndex: appliedIndex.rawValue, commitIndex: status.commit.rawValue,
            dbSizeBytes: DataDirectory.sizeBytes(config.dataDirectory), isLearner: status.confState.learners.contains(id),
            errors: errors, alarms: maintenance.alarms, version: Self.version)
    }

    /// The core needs room for its lease drift bound (2 ticks) plus one tick of granularity.
    static let electionTimeoutTicksMin = 4

    /// The server version reported in status.
    public static let version = "3.4.0-keel"

    /// The members of the cluster (as applied here) with what each told us about itself.
    public func members() -> (members: [MemberInfo], header: ResponseHeader) {
        let members = machine.members.members.map { registered -> MemberInfo in
            var member = MemberInfo(id: registered.id, name: registered.name, peerURLs: registered.peerURLs, isLearner: registered.isLearner)
            if member.id == id {
                member.name = config.name
                if !config.clientURLs.isEmpty { member.clientURLs = config.clientURLs }
            } else if let attributes = peerAttributes[member.id] {
                member.clientURLs = attributes.clientURLs
                if member.name.isEmpty { member.name = attributes.name }
            }
            return member
        }
        return (members, header(revision: revision))
    }

    func header(revision: Int64) -> ResponseHeader {
        ResponseHeader(clusterID: clusterID, memberID: id.rawValue, revision: revision, raftTerm: raft.status.term.rawValue)
    }
}
