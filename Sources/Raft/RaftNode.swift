// The consensus state machine (etcd raft style): it changes state and queues work for the host,
// never performs I/O. Its parts live in extensions by job: elections (RaftNode+Election), the
// follower and candidate leaves (RaftNode+Follower), the leader's replication (RaftNode+Leader),
// reads (RaftNode+Read), membership (RaftNode+Membership) and the Ready handshake (RaftNode+Ready).

/// One Raft node. Not thread-safe: one serial owner drives it through `tick`, `step`, the
/// request methods, and the `ready`/`advance` handshake.
public final class RaftNode {
    let config: RaftConfig
    var id: NodeID { config.id }
    /// The host's generator; the only source of randomness (election timeouts, §5.2).
    var random: any RandomNumberGenerator

    let raftLog: RaftLog
    let tracker: ProgressTracker
    var readOnly = ReadOnlyQueue()

    /// Persistent state (Figure 2); handed to the host through `Ready.hardState`.
    var term: Term
    var vote: NodeID
    /// Invariant: lead == id exactly when role == .leader.
    var lead: NodeID = .none
    var role: RaftRole = .follower

    /// Ticks since the last election timeout reset (followers: since the leader was last heard).
    var electionElapsed = 0
    /// Leaders only: ticks since the last heartbeat broadcast.
    var heartbeatElapsed = 0
    /// Invariant: in [electionTimeoutTicks, 2 * electionTimeoutTicks).
    var randomizedElectionTimeout = 0
    /// This node's logical clock: ticks since start, starting at 1 so 0 can mean "never".
    var tickCount: UInt64 = 1
    /// Lease-based reads only: a freshly started node may have promised a lease to a leader
    /// before it crashed, so it ignores vote requests until an election timeout has passed.
    var startupLeaseGuard: Bool

    /// The target of a leadership transfer in progress (thesis §3.10), else none.
    var leadTransferee: NodeID = .none
    /// Set once this leader sent TimeoutNow in its term: the target may win without waiting for
    /// leases to expire, so this leader's lease is void (thesis §6.4.1).
    var leaseVoid = false
    /// Index of the latest configuration change this leader proposed; a new one waits until it is applied.
    var pendingConfIndex: LogIndex = .zero
    /// Leaders: payload bytes proposed but not yet handed out for applying.
    var uncommittedBytes = 0
    /// Leaders: reads that arrived before the leader committed an entry of its term (thesis §6.4 step 1).
    var readsAwaitingCommit: [(from: NodeID, context: [UInt8])] = []

    /// Work queued for the next Ready.
    var outbox: [Message] = []
    var readStates: [ReadState] = []
    /// Leaders: new entries or a new commit index to broadcast at the next `ready()`; deferring the
    /// broadcast is what batches many proposals into one append per follower.
    var broadcastPending = false
    /// Leaders: a read round waits for its heartbeat at the next `ready()`.
    var readHeartbeatPending = false
    /// Reads this node confirmed from its leader lease alone (thesis §6.4.1), without a round
    /// trip: a simulator checks that no other leader existed at each such moment.
    public internal(set) var leaseReadsServed: UInt64 = 0
    /// The hard state last handed to the host.
    var handedHardState: HardState

    /// Applied membership changes, oldest first, so a compaction at any index records the
    /// configuration in force there. Invariant: non-empty, indexes increase.
    var confHistory: [(index: LogIndex, confState: ConfState)]
    /// Indexes of configuration entries handed out for applying, in order, awaiting `applyConfChange`.
    var confEntriesHandedOut: [LogIndex] = []
    /// Configuration entries at or below this index are superseded by a snapshot restored after
    /// they were handed out: applying them later changes nothing.
    var confSupersededThrough: LogIndex = .zero

    /// The marker a transfer election puts in its vote requests, so voters ignore their leases.
    static let transferContext: [UInt8] = Array("timeout-now".utf8)

    /// Starts a node from what the host restored (``RestoredState/bootstrap(voters:)`` for a new cluster).
    public init(config: RaftConfig, restored: RestoredState, random: some RandomNumberGenerator) {
        config.validate()
        precondition(restored.hardState.vote == .none || restored.hardState.term > .zero, "a vote needs a term")
        self.config = config
        self.random = random
        raftLog = RaftLog(restored: restored)
        tracker = ProgressTracker(confState: restored.confState, inflightMessagesMax: config.inflightMessagesMax)
        term = restored.hardState.term
        vote = restored.hardState.vote
        handedHardState = restored.hardState
        startupLeaseGuard = config.readOnlyMode == .leaseBased
        confHistory = Self.replayConfHistory(restored, log: raftLog)
        becomeFollower(term: term, leader: .none)
    }

    /// Rebuilds which configuration held at which index from the snapshot and the configuration
    /// entries applied after it.
    private static func replayConfHistory(_ restored: RestoredState, log: RaftLog) -> [(index: LogIndex, confState: ConfState)] {
        guard let snap = restored.snapshot else { return [(log.applied, restored.confState)] }
        var history = [(index: snap.index, confState: snap.confState)]
        var conf = snap.confState
        var i = snap.index.advanced(by: 1)
        while i <= log.applied {
            let entry = log.slice(i, i.advanced(by: 1))[0]
            if entry.kind == .confChange, let change = try? ConfChange(decoding: entry.data),
                let next = try? ConfChanger.apply(change, to: conf)
            {
                conf = next
                history.append((i, conf))
            }
            i = i.advanced(by: 1)
        }
        if conf != restored.confState {
            // The host knows better than the replay (for example it applied entries it did not keep).
            history.append((log.applied, restored.confState))
        }
        return history
    }

    // MARK: Driving the node

    /// Advances logical time by one tick: followers and candidates count towards an election,
    /// leaders towards heartbeats and the check-quorum round.
    public func tick() {
        tickCount += 1
        switch role {
        case .leader: tickHeartbeat()
        case .follower, .preCandidate, .candidate: tickElection()
        }
        checkInvariants()
    }

    /// Processes a message from a peer. Stale, misaddressed or otherwise irrelevant messages are ignored.
    public func step(_ m: Message) {
        guard m.to == id, m.from != .none, m.from != id else { return }
        stepMessage(m)
        checkInvariants()
    }

    /// Appends `data` to the log as a new entry (leader only). It is sent with every other proposal
    /// accepted before the next `ready()`.
    public func propose(_ data: [UInt8]) throws(RaftError) {
        try checkCanPropose(bytes: data.count)
        appendAsLeader(Entry(term: term, index: raftLog.lastIndex.advanced(by: 1), kind: .normal, data: data))
    }

    /// Proposes several entries at once: all or none are accepted.
    public func propose(batch: [[UInt8]]) throws(RaftError) {
        var bytes = 0
        for data in batch { bytes += data.count }
        try checkCanPropose(bytes: bytes)
        var entries: [Entry] = []
        entries.reserveCapacity(batch.count)
        var index = raftLog.lastIndex
        for data in batch {
            index = index.advanced(by: 1)
            entries.append(Entry(term: term, index: index, kind: .normal, data: data))
        }
        appendAsLeader(entries)
    }

    /// Proposes a membership change (thesis §4.3). One at a time: a new one is refused until the
    /// previous one is applied.
    public func proposeConfChange(_ change: ConfChange) throws(RaftError) {
        let data = change.encoded()
        try checkCanPropose(bytes: data.count)
        guard pendingConfIndex <= raftLog.applied else {
            throw RaftError(.confChangeInProgress, "configuration change at \(pendingConfIndex) not applied yet", leader: id)
        }
        _ = try ConfChanger.apply(change, to: tracker.confState)
        let entry = Entry(term: term, index: raftLog.lastIndex.advanced(by: 1), kind: .confChange, data: data)
        pendingConfIndex = entry.index
        appendAsLeader(entry)
    }

    /// Whether the last configuration change this leader proposed is applied (a new one may be
    /// proposed).
    public var pendingConfChangeApplied: Bool { pendingConfIndex <= raftLog.applied }

    /// Asks for a linearizable read (thesis §6.4). The answer arrives in `Ready.readStates` with
    /// this context; serve it once the host has applied up to its index. A follower forwards the
    /// request to its leader.
    public func readIndex(context: [UInt8]) throws(RaftError) {
        switch role {
        case .leader:
            try acceptRead(from: id, context: context)
        case .follower:
            guard lead != .none else { throw RaftError(.noLeader, "no leader to ask for a read index") }
            send(Message(type: .readIndex, from: id, to: lead, term: term, context: context))
        case .preCandidate, .candidate:
            throw RaftError(.noLeader, "election in progress")
        }
    }

    /// Hands leadership to `target` (thesis §3.10): proposals stop, the target is brought up to date
    /// and told to campaign at once. Gives up after an election timeout.
    public func transferLeadership(to target: NodeID) throws(RaftError) {
        guard role == .leader else { throw notLeaderError() }
        guard tracker.isVoter(target) else {
            throw RaftError(.unknownNode, "\(target) is not a voter and cannot lead", leader: id)
        }
        startTransfer(to: target)
    }

    /// Starts an election now, as if the election timeout had passed (with pre-vote if configured).
    public func campaign() {
        hup()
        checkInvariants()
    }

    /// The host applied a committed configuration entry: switch to the configuration it describes.
    /// An entry that is invalid against the current configuration changes nothing (every node
    /// decides so identically). Returns the configuration now in force.
    @discardableResult
    public func applyConfChange(_ change: ConfChange) -> ConfState {
        let index = confEntriesHandedOut.isEmpty ? raftLog.applying : confEntriesHandedOut.removeFirst()
        guard index > confSupersededThrough else { return tracker.confState }
        guard let new = try? ConfChanger.apply(change, to: tracker.confState) else { return tracker.confState }
        switchConfig(new, at: index)
        return new
    }

    /// The host took a snapshot of its state machine at `index` (at most the last index it applied;
    /// it may call this while processing a Ready, before `advance`): the core drops its log up to
    /// there and keeps the snapshot to send to lagging followers. An index at or below the current
    /// snapshot (for example one the leader sent meanwhile) changes nothing.
    public func compact(upTo index: LogIndex, snapshotData: [UInt8]) {
        precondition(index <= raftLog.applying, "cannot compact past the applied index")
        guard index > raftLog.snapshot.index else { return }
        let conf = confState(at: index)
        raftLog.compact(upTo: index, confState: conf, data: snapshotData)
        while confHistory.count > 1 && confHistory[1].index <= index { confHistory.removeFirst() }
    }

    /// The host could not deliver to `peer`: stop streaming to it and probe again.
    public func reportUnreachable(_ peer: NodeID) {
        guard role == .leader, let i = tracker.slot(peer), peer != id else { return }
        if tracker.progress[i].state == .replicate { tracker.progress[i].becomeProbe() }
    }

    /// The host finished (or failed) sending a snapshot to `peer`.
    public func reportSnapshot(_ peer: NodeID, succeeded: Bool) {
        guard role == .leader, let i = tracker.slot(peer), peer != id else { return }
        guard tracker.progress[i].state == .snapshot else { return }
        if !succeeded { tracker.progress[i].pendingSnapshot = .zero }
        tracker.progress[i].becomeProbe()
        // Wait for the follower's answer (or the next heartbeat answer) before sending again.
        tracker.progress[i].probeSent = true
    }

    /// Who this node is and what it knows.
    public var status: RaftStatus {
        RaftStatus(
            id: id, role: role, term: term, vote: vote, leader: lead, commit: raftLog.committed,
            applied: raftLog.applied, lastIndex: raftLog.lastIndex, confState: tracker.confState,
            leadTransferee: leadTransferee
        )
    }

    /// The leader's view of every member's replication, itself included; empty on other nodes.
    public var replication: [NodeID: ReplicationStatus] {
        guard role == .leader else { return [:] }
        var result: [NodeID: ReplicationStatus] = [:]
        for (slot, member) in tracker.ids.enumerated() {
            let progress = tracker.progress[slot]
            let match = member == id ? raftLog.lastIndex : progress.match
            result[member] = ReplicationStatus(
                match: match, recentlyActive: member == id || progress.recentActive, isLearner: progress.isLearner)
        }
        return result
    }

    /// A read-only copy of the in-memory log.
    public var log: RaftLogView { raftLog.view() }

    // MARK: Shared helpers

    var hardState: HardState { HardState(term: term, vote: vote, commit: raftLog.committed) }

    /// Whether this node may campaign: it is a voter of its configuration.
    var promotable: Bool { tracker.isVoter(id) }

    func send(_ m: Message) {
        precondition(m.from == id)
        precondition(m.to != id, "messages to self are handled locally")
        precondition(m.to != .none)
        outbox.append(m)
    }

    func notLeaderError() -> RaftError {
        if lead == .none { return RaftError(.noLeader, "no leader known") }
        return RaftError(.notLeader, "\(lead) is the leader", leader: lead)
    }

    func confState(at index: LogIndex) -> ConfState {
        var result = confHistory[0].confState
        for (i, conf) in confHistory where i <= index { result = conf }
        return result
    }

    func checkInvariants() {
        precondition((role == .leader) == (lead == id), "lead must be self exactly when leading")
        precondition(vote == .none || term > .zero)
        precondition(role != .leader || vote == id, "a leader voted for itself")
        precondition(leadTransferee == .none || role == .leader)
        precondition(randomizedElectionTimeout >= config.electionTimeoutTicks)
        precondition(randomizedElectionTimeout < 2 * config.electionTimeoutTicks)
    }
}
