// The seeded cluster simulator: a discrete-event loop over message deliveries, node ticks (each
// node's clock drifting), disk syncs and the once-per-nominal-tick fault and client schedule.
// Phase one injects faults and checks safety after every step; phase two heals everything and
// requires a leader and a new write on every live voter within a bounded number of ticks.
// The host also checks durability itself (Simulation+Durability): nothing is sent before what it
// promises is synced, and nothing is committed before a quorum holds it on disk.

import Raft

/// How to run one seed.
public struct SimOptions: Sendable {
    /// Nominal ticks of the faulty phase.
    public static let stepsDefault = 300
    /// Nominal ticks the healed cluster gets to elect a leader and apply a new write everywhere.
    public static let livenessTicksMax = 300

    /// Everything in the run derives from this.
    public var seed: UInt64
    /// Overrides the drawn cluster size (3...7).
    public var nodeCount: Int?
    /// Nominal ticks of the faulty (safety) phase.
    public var steps: Int
    /// Called with every non-tick event as it happens.
    public var verbose: (@Sendable (String) -> Void)?
    /// A deliberately broken host, for the checker's own tests: it sends messages of these types
    /// before syncing the Ready that holds them, so (say) vote grants leave before the vote is
    /// durable. The persist-before-send check must report each such type.
    public var brokenHostSendsEarly: Set<MessageType> = []
    /// For the checker's own tests: lease seeds get clocks whose tick periods differ by this many
    /// units (of ``SimParameters/tickUnits``) instead of what their drift bound tolerates. Beyond the
    /// bound a leader's lease outlasts its followers' promise, and the read check must notice.
    public var leaseDriftUnits: Int?

    /// Options for `seed`; the other values default to the CLI defaults.
    public init(seed: UInt64, nodeCount: Int? = nil, steps: Int = SimOptions.stepsDefault, verbose: (@Sendable (String) -> Void)? = nil) {
        self.seed = seed
        self.nodeCount = nodeCount
        self.steps = steps
        self.verbose = verbose
    }

    /// The one command that replays this seed.
    public var replayCommand: String {
        var cmd = "swift run -c release raft-sim --seed \(seed)"
        if let n = nodeCount { cmd += " --nodes \(n)" }
        if steps != Self.stepsDefault { cmd += " --steps \(steps)" }
        return cmd + " --verbose"
    }
}

/// What one seed did.
public struct SimResult: Sendable {
    /// How the seed was run.
    public var options: SimOptions
    /// What the seed drew.
    public var parameters: SimParameters
    /// The first property found broken, if any.
    public var violation: Violation?
    /// A hash of every event: equal for two runs of one seed.
    public var traceHash: UInt64
    /// Events recorded (ticks included).
    public var eventCount: Int
    /// The last events before the end (or the failure), ticks left out.
    public var traceTail: [TraceEvent]
    /// Client writes applied by their proposer and reported.
    public var writesAcked = 0
    /// Client reads answered.
    public var readsServed = 0
    /// Times a node was first seen leading a term.
    public var leadersElected = 0
    /// Configuration entries applied on any node (joint ones count once per step taken).
    public var confChangesApplied = 0
    /// Snapshots a node installed from its leader.
    public var snapshotsInstalled = 0
    /// Nodes crashed (losing unsynced writes).
    public var crashes = 0
    /// Partitions started.
    public var partitions = 0
    /// Nominal ticks the healed cluster needed to make progress everywhere.
    public var ticksToRecover = 0

    /// A multi-line failure report: seed, property, trace tail and the replay command.
    public var failureReport: String {
        guard let violation else { return "seed \(options.seed): ok" }
        var lines = ["VIOLATION seed \(options.seed): \(violation)", "  parameters: \(parameters)", "  trace tail:"]
        lines += traceTail.map { "    \($0)" }
        lines.append("  replay: \(options.replayCommand)")
        return lines.joined(separator: "\n")
    }
}

/// Runs one seed. Single-threaded and deterministic: everything random comes from `random`.
public final class Simulation {
    /// Liveness markers are drawn from this range, apart from client values.
    static let markerBase: UInt64 = 1 << 62
    static let clientCount = 8
    /// Readys one node may hand out in answer to one event; far above what any event causes.
    static let readysPerEventMax = 10_000

    let options: SimOptions
    let params: SimParameters
    var random: SimRandom
    var now = 0
    var network: SimNetwork
    /// Indexed by node id; nil for ids never started.
    var hosts: [SimHost?]
    var safety = SafetyChecker()
    var reads = ReadChecker()
    var trace = SimTrace()
    var result: SimResult
    var healed = false
    /// The current partition may not heal or change before this time.
    var partitionHeldUntil = 0

    // Clients: each has at most one operation outstanding.
    var clientBusyUntil: [Int] = Array(repeating: -1, count: Simulation.clientCount)
    var leaderHint: [NodeID] = Array(repeating: .none, count: Simulation.clientCount)
    var pendingWrites: [UInt64: (client: Int, node: NodeID, incarnation: Int)] = [:]
    var pendingReads: [UInt64: (client: Int, node: NodeID, incarnation: Int, required: LogIndex)] = [:]
    var nextValue: UInt64 = 1
    var nextReadID: UInt64 = 1
    var nextMarker = Simulation.markerBase
    var markerTerm: Term = .zero
    /// Each leader's commit index as last observed, for the commit-durability check.
    var leaderCommitSeen: [LeaderCommitKey: LogIndex] = [:]
    /// Every message to a node is a slow one until this time (indexed by node id).
    var slowInboundUntil: [Int]
    /// After a transfer or a partition that cut the leader off: reads go to the old leader and
    /// writes to the newest until `until`.
    var oldLeaderReads: (oldLeader: NodeID, until: Int)?

    /// Prepares the cluster of `options.seed`.
    public init(options: SimOptions) {
        self.options = options
        var drawn = SimParameters(seed: options.seed, nodeCount: options.nodeCount)
        if let drift = options.leaseDriftUnits, drawn.readOnlyMode == .leaseBased { drawn.tickDriftUnits = drift }
        params = drawn
        random = SimRandom(seed: options.seed)
        let maxID = params.nodeCount + params.spareCount
        network = SimNetwork(maxNodeID: maxID)
        hosts = Array(repeating: nil, count: maxID + 1)
        slowInboundUntil = Array(repeating: 0, count: maxID + 1)
        result = SimResult(options: options, parameters: params, traceHash: 0, eventCount: 0, traceTail: [])
        trace.verbose = options.verbose
        let voters = (1...params.nodeCount).map { NodeID(UInt64($0)) }
        let boot = RestoredState.bootstrap(voters: voters)
        for id in voters {
            let durable = DurableState(hardState: boot.hardState, snapshot: Snapshot(metadata: boot.snapshot!, data: []))
            startHost(id, durable: durable)
        }
    }

    /// Runs the seed: safety phase, then liveness phase. Stops at the first violation.
    public static func run(_ options: SimOptions) -> SimResult {
        Simulation(options: options).run()
    }

    func run() -> SimResult {
        let safetyEnd = options.steps * SimParameters.tickUnits
        var nextGlobalTick = SimParameters.tickUnits
        while now < safetyEnd && !failed {
            step(until: nextGlobalTick)
            if now == nextGlobalTick && !failed {
                faultSchedule()
                clientSchedule()
                nextGlobalTick += SimParameters.tickUnits
            }
        }
        if !failed { livenessPhase(nextGlobalTick: nextGlobalTick) }
        result.violation = (safety.violations + reads.violations).first ?? result.violation
        result.traceHash = trace.hash
        result.eventCount = trace.eventCount
        result.traceTail = trace.tail
        return result
    }

    var failed: Bool {
        !safety.violations.isEmpty || !reads.violations.isEmpty || result.violation != nil
    }

    // MARK: The event loop

    /// Moves time to the next event (at most `limit`) and runs everything due then.
    func step(until limit: Int) {
        var t = limit
        if let d = network.nextDeliveryAt { t = min(t, d) }
        for case let h? in hosts { t = min(t, h.wakeAt) }
        precondition(t >= now, "time never goes back")
        now = t
        for case let h? in hosts {
            wake(h)
            if failed { return }
        }
        while let inFlight = network.popDue(now: now) {
            deliver(inFlight.message)
            if failed { return }
        }
    }

    private func wake(_ h: SimHost) {
        if !h.isUp {
            if h.restartAt <= now { restart(h) }
            return
        }
        guard h.isRunning(at: now) else { return }
        if h.pausedUntil != 0 {
            h.pausedUntil = 0
            record(.resume, h.id)
        }
        if h.unsynced != nil && h.syncAt <= now { completeSync(h) }
        // A resumed host's clock kept running: it fires every tick it missed.
        while h.nextTickAt <= now, let node = h.node {
            node.tick()
            h.nextTickAt += h.tickPeriod
            record(.tick, h.id)
            pump(h)
            if failed { return }
        }
    }

    private func deliver(_ m: Message) {
        guard let h = host(m.to), h.isUp else {
            record(.drop, m.to, m.from.rawValue, UInt64(m.type.rawValue), m.term.rawValue)
            return
        }
        if !h.isRunning(at: now) {
            // A paused process reads its socket when it resumes.
            network.push(m, at: h.pausedUntil)
            return
        }
        if network.isCut(from: m.from, to: m.to) {
            record(.drop, m.to, m.from.rawValue, UInt64(m.type.rawValue), m.term.rawValue)
            return
        }
        record(.deliver, m.to, m.from.rawValue, UInt64(m.type.rawValue), m.term.rawValue)
        h.node!.step(m)
        pump(h)
    }

    /// Every call into a core is followed by a pump: if it confirmed a read from its lease, no
    /// node may lead in a newer term at this moment.
    func checkLease(_ h: SimHost) {
        guard let node = h.node else { return }
        let served = node.leaseReadsServed
        guard served != h.leaseReadsSeen else { return }
        h.leaseReadsSeen = served
        let term = node.status.term
        for other in hosts.compactMap({ $0 }) where other.id != h.id {
            guard other.isUp, let status = other.node?.status, status.role == .leader, status.term > term else { continue }
            result.violation = result.violation ?? Violation(
                .leaseOverlap, "\(h.id) confirmed a read from its lease in term \(term) while \(other.id) leads in term \(status.term)")
        }
    }

    func host(_ id: NodeID) -> SimHost? {
        let i = Int(id.rawValue)
        return i < hosts.count ? hosts[i] : nil
    }

    // MARK: The host loop: ready, persist (sync), send, apply, advance

    /// Takes the node's next Ready and writes it; the sync completes now or after a disk delay.
    /// Early-send seeds send what depends on nothing unsynced at once; the rest waits for the sync.
    func pump(_ h: SimHost) {
        checkCommitDurable(h)
        checkLease(h)
        var readys = 0
        while let node = h.node, h.unsynced == nil, node.hasReady {
            readys += 1
            guard readys <= Self.readysPerEventMax else {
                // A core that always has more work without any input is live-locked: report it
                // rather than spin (a seed must end).
                result.violation = result.violation ?? Violation(.liveness, "\(h.id) handed out \(readys - 1) Readys for one event (live-lock)")
                break
            }
            var rd = node.ready()
            for e in rd.entries {
                let prev = e.index > .zero ? node.log.term(at: e.index.advanced(by: -1)) : nil
                safety.observePersisted(h.id, entry: e, prevTerm: prev)
            }
            if params.earlySend || !options.brokenHostSendsEarly.isEmpty {
                let durableTerm = h.durable.hardState.term
                var late: [Message] = []
                var snapshotReports: [(NodeID, Bool)] = []
                var unreachable: [NodeID] = []
                for m in rd.messages {
                    if options.brokenHostSendsEarly.contains(m.type) || (params.earlySend && mayEarlySend(m, durableTerm: durableTerm)) {
                        send(m, from: h, snapshotReports: &snapshotReports, unreachable: &unreachable)
                    } else {
                        late.append(m)
                    }
                }
                rd.messages = late
                // The core takes reports between ready and advance, as from any other caller.
                for (peer, ok) in snapshotReports { node.reportSnapshot(peer, succeeded: ok) }
                for peer in unreachable { node.reportUnreachable(peer) }
            }
            h.unsynced = rd
            // Not while a resumed host is still firing the ticks it missed: its lease is timed in
            // ticks, so a host must catch its clock up before it serves anything (a stalled
            // process that answered a lease read first would have an unbounded clock drift).
            if h.nextTickAt > now && random.chance(permille: params.betweenReadyPermille) {
                startOperationBetweenReadyAndAdvance(on: h)
            }
            if failed { break }
            let delay = params.syncDelayMaxUnits == 0 ? 0 : random.below(params.syncDelayMaxUnits + 1)
            h.syncAt = now + delay
            if delay > 0 { break }
            completeSync(h)
        }
        observe(h)
    }

    private func completeSync(_ h: SimHost) {
        guard let rd = h.unsynced, let node = h.node else { return }
        h.unsynced = nil
        h.durable.write(hardState: rd.hardState, snapshot: rd.snapshot, entries: rd.entries)
        var snapshotReports: [(NodeID, Bool)] = []
        var unreachable: [NodeID] = []
        for m in rd.messages { send(m, from: h, snapshotReports: &snapshotReports, unreachable: &unreachable) }
        if let snap = rd.snapshot {
            h.values = SimStateMachine.decodeSnapshot(snap.data)
            h.appliedIndex = snap.metadata.index
            h.appliedMarker = h.values.contains { $0 >= Self.markerBase }
            safety.observeSnapshot(h.id, incarnation: h.incarnation, index: snap.metadata.index, term: snap.metadata.term)
            record(.snapshot, h.id, snap.metadata.index.rawValue)
            result.snapshotsInstalled += 1
        }
        for e in rd.committedEntries { apply(e, on: h, node: node) }
        for rs in rd.readStates { readIndexArrived(rs, on: h) }
        node.advance(rd)
        checkCommitDurable(h)
        serveWaitingReads(h)
        for (peer, ok) in snapshotReports { node.reportSnapshot(peer, succeeded: ok) }
        for peer in unreachable { node.reportUnreachable(peer) }
        maybeCompact(h, node: node)
    }

    private func send(_ m: Message, from h: SimHost, snapshotReports: inout [(NodeID, Bool)], unreachable: inout [NodeID]) {
        checkDurableBeforeSend(m, from: h)
        let lost: Bool
        if network.isCut(from: m.from, to: m.to) {
            lost = true
            if random.chance(permille: 500) { unreachable.append(m.to) }
        } else {
            lost = !healed && random.chance(permille: params.dropPermille)
        }
        if m.type == .installSnapshot { snapshotReports.append((m.to, !lost)) }
        if lost {
            record(.drop, m.to, m.from.rawValue, UInt64(m.type.rawValue), m.term.rawValue)
            return
        }
        network.push(m, at: now + 1 + random.below(params.delayMaxUnits) + slowDelay(to: m.to))
        if !healed && random.chance(permille: params.duplicatePermille) {
            network.push(m, at: now + 1 + random.below(params.delayMaxUnits * 2) + slowDelay(to: m.to))
        }
    }

    /// Extra latency of a message on the slow path: up to `slowDelayMaxTicks`, so answers arrive
    /// after newer ones and after the ticks that would have timed them out.
    private func slowDelay(to: NodeID) -> Int {
        guard !healed else { return 0 }
        let slowLink = slowInboundUntil[Int(to.rawValue)] > now
        guard slowLink || random.chance(permille: params.slowPermille) else { return 0 }
        return random.between(1...params.slowDelayMaxTicks * SimParameters.tickUnits)
    }

    private func apply(_ e: Entry, on h: SimHost, node: RaftNode) {
        safety.observeApplied(h.id, incarnation: h.incarnation, entry: e, previous: h.appliedIndex)
        h.appliedIndex = e.index
        if e.kind == .confChange {
            if let change = try? ConfChange(decoding: e.data) {
                node.applyConfChange(change)
                result.confChangesApplied += 1
            }
            return
        }
        guard let v = SimStateMachine.value(of: e) else { return }
        h.values.append(v)
        if v >= Self.markerBase { h.appliedMarker = true }
        if let w = pendingWrites[v], w.node == h.id, w.incarnation == h.incarnation {
            pendingWrites[v] = nil
            clientBusyUntil[w.client] = -1
            reads.writeAcknowledged(value: v, index: e.index)
            result.writesAcked += 1
            record(.acked, h.id, v, e.index.rawValue)
        }
    }

    /// Host-side compaction: snapshot the state machine every so many applied entries.
    private func maybeCompact(_ h: SimHost, node: RaftNode) {
        let every = params.compactEveryEntries
        guard every > 0, let snapIndex = h.durable.snapshot?.metadata.index else { return }
        guard h.appliedIndex.rawValue >= snapIndex.rawValue + UInt64(every) else { return }
        // The core may hold a newer snapshot from the leader that the host has not installed yet
        // (its Ready waits behind the one being synced): then there is nothing to compact.
        guard node.log.snapshot.index < h.appliedIndex else { return }
        let data = SimStateMachine.encodeSnapshot(h.values)
        node.compact(upTo: h.appliedIndex, snapshotData: data)
        let meta = node.log.snapshot
        precondition(meta.index == h.appliedIndex, "the core compacted to \(meta.index), the host asked \(h.appliedIndex) (seed \(options.seed))")
        h.durable.compact(to: Snapshot(metadata: meta, data: data))
        record(.compact, h.id, meta.index.rawValue)
    }

    /// Feeds the checkers what `h`'s node looks like now.
    func observe(_ h: SimHost) {
        guard let node = h.node else { return }
        let s = node.status
        let log = node.log
        if s.role == .leader {
            if h.ledTerm != s.term {
                h.ledTerm = s.term
                result.leadersElected += 1
                record(.leader, h.id, s.term.rawValue)
            }
            safety.observeLeader(h.id, term: s.term, lastIndex: log.lastIndex, snapshotIndex: log.snapshot.index) { log.term(at: $0) }
        }
        safety.observeCommit(h.id, incarnation: h.incarnation, currentTerm: s.term, commit: s.commit) { log.term(at: $0) }
    }

    // MARK: Hosts coming and going

    func startHost(_ id: NodeID, durable: DurableState) {
        var config = RaftConfig(id: id)
        config.electionTimeoutTicks = params.electionTimeoutTicks
        config.heartbeatIntervalTicks = 1
        config.preVote = params.preVote
        config.checkQuorum = params.checkQuorum
        config.readOnlyMode = params.readOnlyMode == .leaseBased ? .leaseBased : .readIndex
        config.leaseClockDriftBoundTicks = params.leaseClockDriftBoundTicks
        config.inflightMessagesMax = params.inflightMessagesMax
        config.proposalBatchMaxEntries = params.appendEntriesMax
        // Lease seeds put each clock at one extreme or the other: the largest ratio the drift bound
        // tolerates is where a lease that ignores the bound breaks.
        let drift = params.tickDriftUnits == 0 ? 0 : params.readOnlyMode == .leaseBased
            ? (random.chance(permille: 500) ? params.tickDriftUnits : 0) : random.below(params.tickDriftUnits + 1)
        let period = SimParameters.tickUnits + drift
        let h = SimHost(id: id, config: config, durable: durable, tickPeriod: period, now: now)
        hosts[Int(id.rawValue)] = h
        h.start(random: random.fork(), now: now)
        pump(h)
    }

    func restart(_ h: SimHost) {
        h.start(random: random.fork(), now: now)
        record(.restart, h.id, UInt64(h.incarnation))
        pump(h)
    }

    func record(_ kind: TraceEvent.Kind, _ node: NodeID, _ a: UInt64 = 0, _ b: UInt64 = 0, _ c: UInt64 = 0) {
        trace.record(TraceEvent(time: now, kind: kind, node: node.rawValue, a: a, b: b, c: c))
    }

    /// Up, running hosts in id order.
    var runningHosts: [SimHost] {
        hosts.compactMap { $0 }.filter { $0.isRunning(at: now) }
    }

    /// The running node that leads the highest term, if any.
    var currentLeader: SimHost? {
        var best: SimHost?
        for h in runningHosts {
            guard let s = h.node?.status, s.role == .leader else { continue }
            if best == nil || s.term > best!.node!.status.term { best = h }
        }
        return best
    }
}
