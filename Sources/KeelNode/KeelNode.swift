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

    let config: NodeConfig
    let network: any PeerNetwork
    let logger: Logger
    let raft: RaftNode
    let worker: StorageWorker
    let metrics = NodeMetrics()
    let clock = ContinuousClock()

    /// Proposals waiting for their entry to apply, by request id. Bounded by `pendingProposalsMax`.
    var proposals: [UInt64: ProposalWaiter] = [:]
    /// Linearizable reads waiting for their read index or for the state machine to reach it.
    /// Bounded by `pendingProposalsMax`.
    var reads: [UInt64: ReadWaiter] = [:]
    /// Requests waiting (briefly) for an election in progress. Bounded by `pendingProposalsMax`.
    var leaderWaiters: [UInt64: LeaderWaiter] = [:]
    /// Serializable reads queued on the storage thread. Bounded by `pendingProposalsMax`.
    var serializableReadsInFlight = 0
    var lastRequestID: UInt64
    var knownLeader: NodeID = .none
    /// The term of `knownLeader`: the same leader in a new term dropped its pending reads too.
    var knownTerm: Term = .zero
    /// Ticks fired since start; read-index retries are timed in ticks.
    var tickCount: UInt64 = 0
    var appliedIndex: LogIndex
    var revision: Int64
    var compactedRevision: Int64
    /// What peers told us about themselves; only members of the configured cluster are kept.
    var peerAttributes: [NodeID: MemberAttributes] = [:]

    var running = false
    var stopped = false
    /// Set when storage failed: the node stops taking part (etcd panics in this case).
    var halted: KeelError?
    var tasks: [Task<Void, Never>] = []
    var readyTask: Task<Void, Never>?
    var readyWakeup: CheckedContinuation<Void, Never>?
    /// Test hook (see ``ReadyWork/beforeAppend``).
    var beforeAppend: (@Sendable () -> Void)?

    func setBeforeAppend(_ hook: (@Sendable () -> Void)?) { beforeAppend = hook }

    /// Ready cycles that wrote (and fsynced) the Raft log: with group commit, fewer than the writes
    /// they carried.
    public internal(set) var syncedWriteCount = 0
    /// Snapshots this node took of its own state machine (each is compacted to once
    /// `snapshotCatchUpEntries` more entries applied).
    public internal(set) var snapshotsTaken = 0
    /// Times this node compacted its log (core and storage) to one of its snapshots.
    public internal(set) var logCompactions = 0
    /// The image taken last, waiting for catch-up entries before the log is compacted to it.
    var pendingImage: SnapshotImage?
    /// The core resumed from a stored snapshot without its image (see ``restore(_:)``): until the
    /// log is compacted to a new image, snapshots the core wants to send are held back.
    var imageMissing: Bool
    /// Set when a snapshot was held back: the next Ready compacts to the pending image at once.
    var compactPendingNow = false
    /// Snapshots held back for want of an image (tests check the restart path is taken).
    var snapshotsHeldBack = 0
    /// The image being read, if any (at most one at a time).
    var imageTask: Task<Void, Never>?
    /// Test hook (see ``ImageSource/beforeRead``).
    var beforeImageRead: (@Sendable () -> Void)?

    func setBeforeImageRead(_ hook: (@Sendable () -> Void)?) { beforeImageRead = hook }
    /// Snapshots this node installed from a leader.
    public internal(set) var snapshotsInstalled = 0

    /// Client writes waiting for their outcome (at most `pendingProposalsMax`).
    public var pendingProposalCount: Int { proposals.count }

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
        try DataDirectory.claim(config.dataDirectory, clusterID: config.clusterID, memberID: config.selfID)
        var options = StorageOptions()
        options.valueBytesMax = config.maxRequestBytes
        let path = config.dataDirectory + "/" + DataDirectory.databaseFolder
        let storage: NodeStorage
        let restored: RestoredState
        let imageMissing: Bool
        do {
            storage = try NodeStorage(directory: path, options: options)
            if DataDirectory.isFresh(storage) && config.isNewCluster {
                try DataDirectory.bootstrap(storage, voters: config.members.filter { !$0.isLearner }.map(\.id))
            }
            (restored, imageMissing) = try Self.restore(storage)
        } catch {
            throw KeelError(.failedPrecondition, "cannot open the storage in \(path): \(error)")
        }
        var raftConfig = RaftConfig(id: config.selfID)
        raftConfig.electionTimeoutTicks = config.electionTimeoutTicks
        raftConfig.heartbeatIntervalTicks = 1
        raftConfig.preVote = true
        raftConfig.checkQuorum = true
        raftConfig.readOnlyMode = .readIndex
        raft = RaftNode(config: raftConfig, restored: restored, random: SystemRandomNumberGenerator())
        id = config.selfID
        clusterID = config.clusterID
        self.config = config
        self.network = network
        self.logger = logger
        appliedIndex = storage.stateMachine.appliedIndex
        revision = storage.stateMachine.revision
        compactedRevision = storage.stateMachine.compactedRevision
        worker = StorageWorker(storage: storage)
        self.imageMissing = imageMissing
        // Random start: ids of an earlier life of this node may still be in the log being replayed.
        lastRequestID = UInt64.random(in: 1...(UInt64.max >> 1))
        logger.info(
            "keel node restored",
            metadata: [
                "member": "\(DataDirectory.hex(config.selfID.rawValue))", "applied": "\(restored.applied)",
                "term": "\(restored.hardState.term)", "entries": "\(restored.entries.count)",
            ])
    }

    /// What the core resumes from. If the state machine applied past the stored snapshot, a new
    /// snapshot is taken first (compacting the log), so the snapshot bytes handed to the core are
    /// exactly the state at the snapshot index: a restarted leader must be able to send laggards
    /// a correct image (``Raft/RestoredState/snapshotData``).
    ///
    /// The state machine usually applied past the stored snapshot S, and its image at S is gone
    /// (the state machine only moves forward). Re-snapshotting at the applied index would drop the
    /// catch-up entries after S and read the whole state before starting. So the core resumes from
    /// S with no image (`imageMissing`): ``start()`` reads the image at the applied index off the
    /// pipeline, and a snapshot the core wants to send meanwhile is held back until the log is
    /// compacted to that image (``readyCycle()``). Only when nothing was applied past S is the
    /// image taken here, being exactly the state at S. The founding snapshot (index 1) has an
    /// empty image by definition.
    static func restore(_ storage: NodeStorage) throws -> (state: RestoredState, imageMissing: Bool) {
        var snapshotData: [UInt8] = []
        var imageMissing = false
        let stored = storage.log.snapshotMetadata.index
        if stored > LogIndex(1) {
            if storage.stateMachine.appliedIndex > stored {
                imageMissing = true
            } else {
                snapshotData = try ReadyWork.takeImage(storage).data
            }
        }
        let restart = try storage.restartState()
        let snapshot = restart.snapshotMetadata.index == .zero ? nil : restart.snapshotMetadata
        let state = RestoredState(
            hardState: restart.hardState, snapshot: snapshot, entries: restart.entries, confState: restart.confState,
            applied: restart.appliedIndex, snapshotData: snapshotData)
        return (state, imageMissing)
    }

    /// Starts the tick loop (monotonic clock), the Ready loop and consumption of `network.events`.
    public func start() {
        guard !running, !stopped else { return }
        running = true
        if imageMissing { readRestartImage() }
        readyTask = Task { await self.runReadyLoop() }
        let interval = config.tickInterval
        tasks.append(Task { await self.runTicker(interval: interval) })
        let events = network.events
        tasks.append(Task { await self.consume(events) })
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
        failAll(KeelError.stopped, writeError: KeelError.stoppedOutcomeUnknown)
        await worker.close()
        logger.info("keel node stopped", metadata: ["member": "\(DataDirectory.hex(id.rawValue))"])
    }

    /// A leader that stops hands leadership to another voter first (thesis §3.10, as etcd does on
    /// shutdown), so the cluster does not wait an election timeout for a new leader. Gives up after
    /// one election timeout (the target may be down); requests keep being served meanwhile.
    func handOffLeadership() async {
        let status = raft.status
        guard running, halted == nil, status.role == .leader else { return }
        guard let target = status.confState.voters.filter({ $0 != id }).sorted().first else { return }
        do { try raft.transferLeadership(to: target) } catch { return }
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
    nonisolated func runTicker(interval: Duration) async {
        let clock = ContinuousClock()
        let origin = clock.now
        var fired: Int64 = 0
        while !Task.isCancelled {
            do { try await clock.sleep(until: origin + interval * (fired + 1), tolerance: nil) } catch { return }
            let due = Int64(((clock.now - origin) / interval).rounded(.down))
            guard due > fired else { continue }
            await tick(Int(due - fired))
            fired = due
        }
    }

    func tick(_ count: Int) {
        guard running, halted == nil else { return }
        for _ in 0..<count { raft.tick() }
        tickCount &+= UInt64(count)
        observeLeader()
        retryReadIndexes()
        expireWaiters(now: clock.now)
        wakeReadyLoop()
    }

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
            errors: errors, version: Self.version)
    }

    /// The core needs room for its lease drift bound (2 ticks) plus one tick of granularity.
    static let electionTimeoutTicksMin = 4

    /// The server version reported in status.
    public static let version = "3.4.0-keel"

    /// The members of the cluster with what each told us about itself.
    public func members() -> (members: [MemberInfo], header: ResponseHeader) {
        let learners = raft.status.confState.learners
        let members = config.members.map { configured -> MemberInfo in
            var member = configured
            if member.id == id {
                if !config.clientURLs.isEmpty { member.clientURLs = config.clientURLs }
            } else if let attributes = peerAttributes[member.id] {
                member.clientURLs = attributes.clientURLs
                if member.name.isEmpty { member.name = attributes.name }
            }
            member.isLearner = member.isLearner || learners.contains(member.id)
            return member
        }
        return (members, header(revision: revision))
    }

    func header(revision: Int64) -> ResponseHeader {
        ResponseHeader(clusterID: clusterID, memberID: id.rawValue, revision: revision, raftTerm: raft.status.term.rawValue)
    }

    /// A read-index request (or its answer) lost on the way is not re-sent by the core nor by the
    /// transport (which drops when full or reconnecting): reads still without a read index are
    /// asked again every `readIndexRetryTicks` (etcd's readIndexRetryTime, 500 ms). A duplicated
    /// answer is harmless: only the first read index is kept.
    func retryReadIndexes() {
        guard raft.status.leader != .none else { return }
        for (readID, waiter) in reads where waiter.index == nil && tickCount &- waiter.askedAtTick >= Self.readIndexRetryTicks {
            reads[readID]?.askedAtTick = tickCount
            try? raft.readIndex(context: ReadContext.encode(readID))
        }
    }

    /// Ticks between two read-index requests for the same read (5 x 100 ms by default, as etcd).
    static let readIndexRetryTicks: UInt64 = 5

    /// Notices a new (or lost) leader, or a new term: metrics, waiting requests, reads whose leader
    /// went away.
    func observeLeader() {
        let status = raft.status
        let leader = status.leader
        guard leader != knownLeader || (leader != .none && status.term != knownTerm) else { return }
        knownTerm = status.term
        if leader != knownLeader {
            logger.info("leader changed", metadata: ["member": "\(DataDirectory.hex(id.rawValue))", "leader": "\(DataDirectory.hex(leader.rawValue))"])
        }
        let leaderChanged = leader != knownLeader
        knownLeader = leader
        metrics.hasLeader.record(leader == .none ? 0 : 1)
        guard leader != .none else { return }
        if leaderChanged { metrics.leaderChanges.increment() }
        for (_, waiter) in leaderWaiters { waiter.continuation.resume(returning: true) }
        leaderWaiters = [:]
        // A new leader, or the same one in a new term, dropped the pending reads (core note): ask again.
        for (readID, waiter) in reads where waiter.index == nil {
            reads[readID]?.askedAtTick = tickCount
            try? raft.readIndex(context: ReadContext.encode(readID))
        }
    }

    /// Storage failed: answer everyone and take no further part (continuing could ack writes that
    /// are not durable).
    func halt(_ error: any Error) {
        let failure = KeelError(.internal, "etcdserver: storage failed: \(error)")
        // Info, as libraries log (STYLE.md); the failure also reaches every caller and status().errors.
        logger.info("keel node halted", metadata: ["member": "\(DataDirectory.hex(id.rawValue))", "error": "\(error)"])
        halted = failure
        failAll(failure, writeError: KeelError(.unknownOutcome, failure.message + "; the request may still be applied"))
    }
}
