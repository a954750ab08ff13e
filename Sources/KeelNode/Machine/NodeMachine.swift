import KeelStorage
import KeelTransport
import Logging
import Raft

/// The decisions of one replicated node, without its I/O: the Raft core plus everything the host
/// keeps around it (waiting requests and their deadlines, forwarding, ReadIndex bookkeeping, the
/// image lifecycle, which messages may leave before the disk write they depend on).
///
/// Driven by calls that take the time (`now`, the node's monotonic clock as an offset from the
/// driver's origin) and append what to do to a ``NodeOutput``; the Ready cycle is split in two
/// (``startReady()`` and ``finishReady(_:into:)``) around the store write the driver performs. The
/// server's driver is ``KeelNode`` (an actor, a storage thread, the peer transport, the clocks); the
/// node simulation drives the same machine with simulated disks, network and time.
///
/// Deterministic: the same calls give the same outputs, in the same order (requests are visited in
/// id order, never in a dictionary's), so a simulation seed replays exactly.
///
/// Not thread-safe: one owner calls it serially.
public final class NodeMachine {
    /// This member's id.
    public let id: NodeID
    let config: NodeConfig
    let logger: Logger
    let metrics: NodeMetrics
    /// The consensus core (owned here; the driver reads its status and starts transfers through
    /// ``status`` and ``transferLeadership(to:)``).
    let raft: RaftNode

    /// Writes proposed or forwarded, waiting for their entry to apply. Bounded by `pendingProposalsMax`.
    var proposals: [UInt64: PendingProposal] = [:]
    /// Linearizable reads waiting for their read index or for the state machine to reach it.
    /// Bounded by `pendingProposalsMax`.
    var reads: [UInt64: PendingRead] = [:]
    /// Requests waiting (briefly) for an election in progress, until their time. Bounded by
    /// `pendingProposalsMax`.
    var leaderWaiters: [UInt64: Duration] = [:]
    var lastRequestID: UInt64
    var knownLeader: NodeID = .none
    /// The term of `knownLeader`: the same leader in a new term dropped its pending reads too.
    var knownTerm: Term = .zero
    /// Ticks fired since start; read-index retries are timed in ticks.
    var tickCount: UInt64 = 0
    /// The Ready being written, if any. Invariant: at most one (the core hands out the next Ready
    /// only after `advance`).
    var inFlight: ReadyInFlight?
    var images: ImageLifecycle
    /// Every lease's timer (run on the primary only).
    var lessor: Lessor
    /// Keepalives and time-to-live requests waiting. Bounded by `pendingProposalsMax`.
    var leaseRequests: [UInt64: PendingLeaseRequest] = [:]
    /// The members as applied (names and addresses beside the Raft configuration).
    var registry: MemberRegistry
    /// Membership changes proposed or forwarded, waiting to apply here. Bounded by
    /// `membershipProposalsMax`.
    var membershipProposals: [UInt64: PendingProposal] = [:]
    /// Set while leading: the index this node must have applied before it is the primary lessor
    /// (its first entry of the term, so every entry of earlier terms, grants and checkpoints
    /// included, is applied).
    var primaryFrom: LogIndex?

    /// The state machine's applied index, as of the last Ready finished.
    public internal(set) var appliedIndex: LogIndex
    /// The store's revision, as of the last Ready finished.
    public internal(set) var revision: Int64
    /// The compacted revision, as of the last Ready finished.
    public internal(set) var compactedRevision: Int64
    /// Set when storage failed: the node stops taking part (etcd panics in this case).
    public private(set) var halted: KeelError?

    /// Ready cycles that wrote (and synced) the Raft log: with group commit, fewer than the writes
    /// they carried.
    public internal(set) var syncedWriteCount = 0
    /// Images this node took of its own state machine.
    public internal(set) var snapshotsTaken = 0
    /// Times this node compacted its log (core and storage) to one of its images.
    public internal(set) var logCompactions = 0
    /// Snapshots held back for want of an image (tests check the restart path is taken).
    public internal(set) var snapshotsHeldBack = 0
    /// Snapshots this node installed from a leader.
    public internal(set) var snapshotsInstalled = 0

    /// A machine resuming from `restored` (see ``restore(from:)``). `firstRequestID` should differ
    /// between lives of the node: ids of an earlier life may still be in the log being replayed.
    public convenience init(
        config: NodeConfig, restored: RestoredState, coreImageMissing: Bool, store: some NodeStore, firstRequestID: UInt64,
        random: some RandomNumberGenerator, logger: Logger
    ) {
        self.init(
            config: config, restored: restored, coreImageMissing: coreImageMissing, store: store, firstRequestID: firstRequestID,
            random: random, logger: logger, metrics: NodeMetrics())
    }

    /// As the public initializer, recording into the driver's `metrics`.
    init(
        config: NodeConfig, restored: RestoredState, coreImageMissing: Bool, store: some NodeStore, firstRequestID: UInt64,
        random: some RandomNumberGenerator, logger: Logger, metrics: NodeMetrics
    ) {
        var raftConfig = RaftConfig(id: config.selfID)
        raftConfig.electionTimeoutTicks = config.electionTimeoutTicks
        raftConfig.heartbeatIntervalTicks = 1
        raftConfig.preVote = true
        raftConfig.checkQuorum = true
        raftConfig.readOnlyMode = config.readMode == .lease ? .leaseBased : .readIndex
        raftConfig.leaseClockDriftBoundTicks = config.leaseClockDriftBoundTicks
        raft = RaftNode(config: raftConfig, restored: restored, random: random)
        id = config.selfID
        self.config = config
        self.logger = logger
        self.metrics = metrics
        appliedIndex = store.appliedIndex
        revision = store.revision
        compactedRevision = store.compactedRevision
        images = ImageLifecycle(coreImageMissing: coreImageMissing)
        lessor = Lessor(checkpointInterval: config.leaseCheckpointInterval, grace: config.electionTimeout)
        lastRequestID = firstRequestID
        registry = ((try? store.members()) ?? nil).flatMap(MemberRegistry.init(decoding:)) ?? MemberRegistry(configured: config.members)
    }

    /// What the core resumes from. If nothing was applied past the stored snapshot, its image is
    /// taken here (it is exactly the state at the snapshot index): a restarted leader must be able
    /// to send laggards a correct image (``Raft/RestoredState/snapshotData``).
    ///
    /// The state machine usually applied past the stored snapshot S, and its image at S is gone
    /// (the state machine only moves forward). Re-snapshotting at the applied index would drop the
    /// catch-up entries after S and read the whole state before starting. So the core resumes from
    /// S with no image (`coreImageMissing`): the driver reads the image at the applied index off the
    /// pipeline (``startRestartImage()``), and a snapshot the core wants to send meanwhile is held
    /// back until the log is compacted to that image. The founding snapshot (index 1) has an empty
    /// image by definition.
    public static func restore(from store: some NodeStore) throws -> (state: RestoredState, coreImageMissing: Bool) {
        var snapshotData: [UInt8] = []
        var imageMissing = false
        let stored = store.logSnapshot.index
        if stored > LogIndex(1) {
            if store.appliedIndex > stored {
                imageMissing = true
            } else {
                snapshotData = try store.openImage().reader.read()
            }
        }
        let restart = try store.restartState()
        let snapshot = restart.snapshotMetadata.index == .zero ? nil : restart.snapshotMetadata
        let state = RestoredState(
            hardState: restart.hardState, snapshot: snapshot, entries: restart.entries, confState: restart.confState,
            applied: restart.appliedIndex, snapshotData: snapshotData)
        return (state, imageMissing)
    }

    /// The leases the store holds, read by the driver when it starts (the store is the driver's).
    public func loadLeases(_ records: [LeaseRecord], now: Duration) { lessor.load(records, now: now) }

    /// Reads the core confirmed from its leader lease alone (thesis §6.4.1).
    public var leaseReadsServed: UInt64 { raft.leaseReadsServed }

    /// The core's status (role, term, leader, indexes, configuration).
    public var status: RaftStatus { raft.status }

    /// Asks the core to hand leadership to `target` (thesis §3.10).
    public func transferLeadership(to target: NodeID) throws(RaftError) { try raft.transferLeadership(to: target) }

    /// Whether the driver should read the restart image (``startRestartImage()``) before anything else.
    public var needsRestartImage: Bool { images.coreImageMissing && images.phase == .idle }

    /// The driver is about to open the image at the applied index (after a restart); no other image
    /// is opened until ``imageBuilt(_:into:)``.
    public func startRestartImage() {
        precondition(needsRestartImage, "restart image: not missing, or already being read")
        images.startBuilding(at: nil)
    }

    /// Fires `count` ticks of the core, then does what is timed in ticks or by the clock: read-index
    /// retries and request deadlines.
    public func tick(_ count: Int, now: Duration, into out: inout NodeOutput) {
        guard halted == nil else { return }
        for _ in 0..<count { raft.tick() }
        tickCount &+= UInt64(count)
        observeLeader(into: &out)
        retryReadIndexes()
        expireRequests(now: now, into: &out)
        expireMembership(now: now, into: &out)
        expireLeaseRequests(now: now, into: &out)
        runLessor(now: now, into: &out)
    }

    /// Fires every tick the clock says is due (one per `tickInterval` of `now`, counted from zero)
    /// that has not fired yet, then what is timed: the driver's ticker calls this, and so does a
    /// read before it asks the core (``startLinearizableRead(_:deadline:now:into:)``).
    public func advanceClock(to now: Duration, into out: inout NodeOutput) {
        let due = now / config.tickInterval
        guard due >= 1 else { return }
        let dueTicks = UInt64(due.rounded(.down))
        guard dueTicks > tickCount else { return }
        tick(Int(dueTicks - tickCount), now: now, into: &out)
    }

    /// What the network reported, at `now`. Peer attributes are the driver's business and ignored here.
    ///
    /// The ticks due by `now` fire first: a follower's read-index request that waited while this
    /// process was stopped must meet a lease judged by the clock, not by the ticks fired before the
    /// stop (found by the node simulation: a resumed leader answered such a request from a lease
    /// that had ended while a newer leader was already elected).
    public func step(_ event: PeerEvent, now: Duration, into out: inout NodeOutput) {
        guard halted == nil else { return }
        advanceClock(to: now, into: &out)
        guard halted == nil else { return }
        switch event {
        case .message(let message):
            guard message.to == id else { return }
            switch message {
            case .raft(let raftMessage): raft.step(raftMessage)
            case .proposal(let proposal) where proposal.data.first == Self.forwardedMembershipMarker:
                acceptForwardedMembership(proposal, into: &out)
            case .proposal(let proposal): acceptForwarded(proposal, into: &out)
            case .proposalRejected(let rejection):
                if !membershipRejected(rejection, into: &out) { rejected(rejection, into: &out) }
            case .leaseRequest(let request): acceptLeaseRequest(request, now: now, into: &out)
            case .leaseAnswer(let answer): leaseAnswered(answer, into: &out)
            }
        case .unreachable(let peer):
            raft.reportUnreachable(peer)
        case .snapshotStatus(let peer, let succeeded):
            raft.reportSnapshot(peer, succeeded: succeeded)
        case .peerAttributes:
            return
        }
        observeLeader(into: &out)
    }

    /// A read-index request (or its answer) lost on the way is not re-sent by the core nor by the
    /// transport (which drops when full or reconnecting): reads still without a read index are
    /// asked again every `readIndexRetryTicks` (etcd's readIndexRetryTime, 500 ms). A duplicated
    /// answer is harmless: only the first read index is kept.
    func retryReadIndexes() {
        guard raft.status.leader != .none else { return }
        for (readID, read) in reads.sorted(by: { $0.key < $1.key }) where read.index == nil && tickCount &- read.askedAtTick >= Self.readIndexRetryTicks {
            reads[readID]?.askedAtTick = tickCount
            try? raft.readIndex(context: ReadContext.encode(readID))
        }
    }

    /// Ticks between two read-index requests for the same read (5 x 100 ms by default, as etcd).
    static let readIndexRetryTicks: UInt64 = 5

    /// Notices a new (or lost) leader, or a new term: metrics, waiting requests, reads whose leader
    /// went away.
    func observeLeader(into out: inout NodeOutput) {
        let status = raft.status
        let leader = status.leader
        guard leader != knownLeader || (leader != .none && status.term != knownTerm) else { return }
        knownTerm = status.term
        if leader != knownLeader {
            logger.info("leader changed", metadata: ["member": "\(DataDirectory.hex(id.rawValue))", "leader": "\(DataDirectory.hex(leader.rawValue))"])
        }
        let leaderChanged = leader != knownLeader
        knownLeader = leader
        leaseLeaderChanged(leader, into: &out)
        metrics.hasLeader.record(leader == .none ? 0 : 1)
        metrics.etcd.hasLeader.record(leader == .none ? 0 : 1)
        metrics.etcd.isLeader.record(leader == id ? 1 : 0)
        guard leader != .none else { return }
        if leaderChanged {
            metrics.leaderChanges.increment()
            metrics.etcd.leaderChanges.increment()
        }
        for waiterID in leaderWaiters.keys.sorted() { out.leaderWaits.append((waiterID, true)) }
        leaderWaiters = [:]
        // A new leader, or the same one in a new term, dropped the pending reads (core note): ask again.
        for (readID, read) in reads.sorted(by: { $0.key < $1.key }) where read.index == nil {
            reads[readID]?.askedAtTick = tickCount
            try? raft.readIndex(context: ReadContext.encode(readID))
        }
    }

    /// Storage failed: answer everyone and take no further part (continuing could ack writes that
    /// are not durable).
    public func halt(_ error: any Error, into out: inout NodeOutput) {
        guard halted == nil else { return }
        let failure = KeelError(.internal, "etcdserver: storage failed: \(error)")
        // Info, as libraries log (STYLE.md); the failure also reaches every caller and status().errors.
        logger.info("keel node halted", metadata: ["member": "\(DataDirectory.hex(id.rawValue))", "error": "\(error)"])
        halted = failure
        failAll(failure, writeError: KeelError(.unknownOutcome, failure.message + "; the request may still be applied"), into: &out)
    }

    /// Checks what must hold between steps; a failure is a bug in this layer.
    public func checkInvariants() {
        images.check()
        precondition(proposals.count <= config.pendingProposalsMax, "node: \(proposals.count) proposals pending")
        precondition(reads.count <= config.pendingProposalsMax, "node: \(reads.count) reads pending")
        precondition(leaderWaiters.count <= config.pendingProposalsMax, "node: \(leaderWaiters.count) leader waiters")
        precondition(leaseRequests.count <= config.pendingProposalsMax, "node: \(leaseRequests.count) lease requests")
        precondition(membershipProposals.count <= Self.membershipProposalsMax, "node: \(membershipProposals.count) membership changes")
        lessor.check()
        precondition(!lessor.isPrimary || (raft.status.role == .leader && primaryFrom.map { appliedIndex >= $0 } == true), "node: primary lessor while not a caught-up leader")
        // A read marked in flight was handed to the Ready being written (it may have been answered
        // since, by a halt, and so be gone from `reads`).
        let handed = Set(inFlight?.reads ?? [])
        for (readID, read) in reads where read.inFlight {
            precondition(handed.contains(readID), "node: read \(readID) marked in flight outside the Ready being written")
            precondition(read.index != nil, "node: read \(readID) in flight without a read index")
        }
        precondition(appliedIndex <= raft.status.commit || raft.status.commit == .zero, "node: applied \(appliedIndex) beyond commit \(raft.status.commit)")
        if halted != nil {
            precondition(
                proposals.isEmpty && reads.isEmpty && leaderWaiters.isEmpty && leaseRequests.isEmpty && membershipProposals.isEmpty, "node: requests left waiting on a halted node")
        }
    }
}
