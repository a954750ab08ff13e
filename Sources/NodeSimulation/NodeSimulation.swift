import KeelNode
import KeelStorage
import KeelTransport
import Logging
import Raft
import RaftSimulation

/// How to run one seed of the node simulation.
public struct NodeSimOptions: Sendable {
    /// Global ticks (of `NodeSimParameters.tickMilliseconds`) of the faulty phase by default.
    public static let faultTicksDefault = 600
    /// Global ticks the healed cluster gets to elect a leader, complete a write and converge.
    public static let livenessTicksMax = 600

    /// The seed: it decides the parameters and every random choice of the run.
    public var seed: UInt64
    /// Forces the cluster size instead of drawing it.
    public var nodeCount: Int?
    /// Global ticks of the faulty phase.
    public var faultTicks: Int
    /// Receives a line per notable event when set.
    public var verbose: (@Sendable (String) -> Void)?
    /// Forces lease reads with clocks whose tick periods differ by this many milliseconds (10 is
    /// nominal): beyond ``NodeSimParameters/leaseDriftToleratedMilliseconds(boundTicks:electionTicks:)``
    /// the lease is unsafe, which the checker must notice.
    public var leaseDriftMilliseconds: Int?
    /// Runs every clock fast by this many milliseconds per tick (tick periods shorter than
    /// nominal) with TTL leases in use: leases then expire early in real time, which the checker
    /// must notice (the store's lease bound assumes clocks that do not run fast).
    public var fastClockMilliseconds: Int?
    /// False: no client uses TTL leases, whatever the seed drew (its other draws stay the same).
    public var ttlLeases = true
    /// Changes the drawn parameters (a scripted test turns the faults off).
    public var adjust: (@Sendable (inout NodeSimParameters) -> Void)?

    /// Options for `seed`.
    public init(seed: UInt64, nodeCount: Int? = nil, faultTicks: Int = faultTicksDefault, verbose: (@Sendable (String) -> Void)? = nil) {
        self.seed = seed
        self.nodeCount = nodeCount
        self.faultTicks = faultTicks
        self.verbose = verbose
    }
}

/// What one seed did.
public struct NodeSimResult: Sendable {
    /// The seed run.
    public var seed: UInt64
    /// What the seed drew.
    public var parameters: NodeSimParameters
    /// The first property found broken, if any.
    public var violation: Violation?
    /// Writes acknowledged to clients.
    public var writesAcked = 0
    /// Linearizable reads answered.
    public var readsServed = 0
    /// Crashes (including halts after a failed disk write).
    public var crashes = 0
    /// Disk writes that failed.
    public var diskFailures = 0
    /// Snapshots installed from a leader, over all nodes and lives.
    public var snapshotsInstalled = 0
    /// Log compactions to an image, over all nodes and lives.
    public var logCompactions = 0
    /// Restarts whose core resumed without the image of its stored snapshot.
    public var restartsWithoutImage = 0
    /// Snapshots held back for want of an image, over all nodes and lives.
    public var snapshotsHeldBack = 0
    /// Reads confirmed from a leader's lease alone (lease seeds), each checked against every
    /// other node's role.
    public var leaseReadsServed = 0
    /// TTL leases granted, keepalives acknowledged, leases that expired (revoked without a
    /// client asking) and leases their clients revoked.
    public var leasesGranted = 0
    public var keepalivesAcked = 0
    public var leasesExpired = 0
    public var leasesRevokedByClients = 0

    /// Events processed.
    public var eventCount = 0

    /// The violation and the command that replays it.
    public var failureReport: String {
        guard let violation else { return "seed \(seed): ok" }
        return "seed \(seed): \(violation)\n  parameters: \(parameters)\n  replay: swift run -c release node-sim --seed \(seed) --verbose"
    }
}

/// The node simulation: ``KeelNode/NodeMachine`` (the node's decisions, exactly as the server
/// runs them) on simulated disks (``MemoryStore``), network and clocks, with clients, under crashes
/// that lose unsynced writes, slow and failing disks, pauses, partitions, loss, duplication and
/// delay; then a healed phase that must converge. Every step is checked (``RaftSimulation/Violation``).
///
/// Not covered, so that a green run is not over-read: a crash always loses every unsynced apply
/// (RocksDB may keep a prefix of them); image reads and compactions never fail; membership never
/// changes; and the driver's own paths (``KeelNode/KeelNode``'s stop and leadership hand-off, the
/// transport dropping undecodable snapshots, the restart image racing the first Ready on the
/// storage thread) run only in the real-process tests.
public enum NodeSimulation {
    /// Runs one seed.
    public static func run(_ options: NodeSimOptions) -> NodeSimResult {
        NodeSimRun(options).run()
    }
}

/// One node's process and disk.
final class SimNode {
    let id: NodeID
    let store: MemoryStore
    var machine: NodeMachine?
    /// Bumped by each crash: events of an earlier life are ignored.
    var generation = 0
    /// When this life started (the machine's clock starts at zero then).
    var bootTime = 0
    var paused = false
    /// What arrived while paused, handled on resume.
    var deferred: [NodeSimRun.Event.Kind] = []
    var missedTicks = 0
    let tickPeriod: Int
    /// The Ready being written.
    var writing: ReadyWork?
    /// Client (and its operation's sequence number) waiting for each request id.
    var requests: [UInt64: (client: Int, sequence: Int)] = [:]
    var leaderWaits: [UInt64: (client: Int, sequence: Int)] = [:]
    /// Client (and sequence number) waiting for each keepalive.
    var leaseRequests: [UInt64: (client: Int, sequence: Int)] = [:]

    init(id: NodeID, store: MemoryStore, tickPeriod: Int) {
        self.id = id
        self.store = store
        self.tickPeriod = tickPeriod
    }

    var isUp: Bool { machine != nil }
}

/// A client: at most one operation outstanding, against one node.
struct SimClient {
    enum Kind { case put, cas, read, serializableRead, leaseGrant, keepAlive, leasePut, leaseRevoke }
    struct Operation {
        var kind: Kind
        var key: [UInt8]
        var value: [UInt8]
        /// What is proposed or read (a keepalive sends none: it is a request to the primary).
        var command: KVCommand
        /// The admitted write's encoded command (empty for reads).
        var data: [UInt8] = []
        var deadline: Int
        /// The newest revision acknowledged or read (by anyone) when it began, overall and of its key.
        var floorAtStart: Int64
        var keyFloorAtStart: Int64
        var generation: Int
        /// Global time it was sent at.
        var startTime: Int
        /// The TTL lease it concerns (0: none).
        var leaseID: Int64 = 0
    }

    var node: Int
    var operation: Operation?
    var sequence = 0
    /// The version of each key this client saw last (its compare-and-set guard).
    var seenVersion: [[UInt8]: Int64] = [:]
    /// The TTL lease it holds, as far as it knows (granted, not yet found gone or revoked).
    var lease: Int64?
}

final class NodeSimRun {
    struct Event {
        enum Kind {
            case world
            case tick(Int, generation: Int)
            case deliver(Int, PeerMessage)
            case persisted(Int, generation: Int)
            case imageRead(Int, generation: Int, Result<SnapshotImage, any Error>)
            case snapshotStatus(Int, generation: Int, peer: NodeID, succeeded: Bool)
            case restart(Int)
            case resume(Int, generation: Int)
        }
        var time: Int
        var sequence: Int
        var kind: Kind
    }

    /// A slow disk write takes this many times the drawn delay, plus the extra.
    static let slowSyncFactor = 10
    static let slowSyncExtraMilliseconds = 50
    /// Per mille per tick that an idle client writes in the healed phase.
    static let healedWritePermille = 300
    /// A crashed node stays down this many ticks; a paused one this many.
    static let downTicks = 5...80
    static let pauseTicks = 3...40
    /// A client's deadline, and how long past it the client waits for an answer before giving up.
    static let requestTimeoutTicks = 50
    static let clientPatienceTicks = 10

    let options: NodeSimOptions
    let parameters: NodeSimParameters
    var random: SimRandom
    var result: NodeSimResult
    var time = 0
    var sequence = 0
    var queue = EventQueue()
    var nodes: [SimNode] = []
    var clients: [SimClient] = []
    /// Partition group of each node index (nil: healed).
    var groups: [Int]?
    var healing = false
    /// A crashed node comes back by itself after a while (a scripted test restarts it itself).
    var restartsCrashedNodes = true
    /// Lease seeds: a leader just cut off from the others, read from until `until` while the others
    /// elect and write: only its lease's end stands between those reads and the new writes.
    var oldLeaderReads: (node: Int, until: Int)?
    let logger = Logger(label: "node-sim", factory: { _ in SwiftLogNoOpLogHandler() })
    let voters: [NodeID]
    let members: [MemberInfo]
    var checker: NodeChecker

    init(_ options: NodeSimOptions) {
        self.options = options
        var drawn = NodeSimParameters(seed: options.seed, nodeCount: options.nodeCount)
        if let drift = options.leaseDriftMilliseconds {
            drawn.leaseReads = true
            drawn.tickDriftMilliseconds = drift
        }
        if options.fastClockMilliseconds != nil { drawn.ttlLeasePermille = max(drawn.ttlLeasePermille, 250) }
        if !options.ttlLeases { drawn.ttlLeasePermille = 0 }
        options.adjust?(&drawn)
        parameters = drawn
        random = SimRandom(seed: options.seed)
        result = NodeSimResult(seed: options.seed, parameters: parameters)
        voters = (1...parameters.nodeCount).map { NodeID(UInt64($0)) }
        members = voters.map { MemberInfo(id: $0, name: "n\($0)", peerURLs: ["sim://n\($0)"]) }
        checker = NodeChecker(quorum: parameters.nodeCount / 2 + 1)
    }

    func log(_ line: @autoclosure () -> String) {
        options.verbose?("[\(time) ms] \(line())")
    }

    func schedule(_ kind: Event.Kind, after delay: Int) {
        sequence += 1
        queue.push(Event(time: time + max(0, delay), sequence: sequence, kind: kind))
    }

    func run() -> NodeSimResult {
        setUp()
        let faultEnd = options.faultTicks * NodeSimParameters.tickMilliseconds
        let end = faultEnd + NodeSimOptions.livenessTicksMax * NodeSimParameters.tickMilliseconds
        while let event = queue.pop() {
            time = event.time
            if time >= faultEnd && !healing { heal() }
            if time > end {
                fail(.liveness, "the healed cluster did not converge within \(NodeSimOptions.livenessTicksMax) ticks: \(convergenceStatus())")
                break
            }
            result.eventCount += 1
            handle(event.kind)
            if result.violation != nil { break }
            if healing && converged() { break }
        }
        for node in nodes { if let machine = node.machine { count(machine) } }
        return result
    }

    /// Creates and boots the nodes and the clients, and starts the world's clock.
    func setUp() {
        for id in voters {
            // Lease seeds put each clock at one extreme or the other: the largest ratio of periods
            // is where a lease that ignores the drift bound breaks.
            let drift = parameters.leaseReads ? (random.chance(permille: 500) ? parameters.tickDriftMilliseconds : 0)
                : random.between(0...parameters.tickDriftMilliseconds)
            let period = NodeSimParameters.tickMilliseconds + drift - (options.fastClockMilliseconds ?? 0)
            nodes.append(SimNode(id: id, store: MemoryStore(voters: voters), tickPeriod: period))
        }
        for index in nodes.indices { boot(index) }
        for _ in 0..<parameters.clientCount { clients.append(SimClient(node: random.below(nodes.count))) }
        schedule(.world, after: NodeSimParameters.tickMilliseconds)
    }

    /// Adds a machine's counters to the result (when it dies, or at the end).
    func count(_ machine: NodeMachine) {
        result.snapshotsInstalled += machine.snapshotsInstalled
        result.logCompactions += machine.logCompactions
        result.snapshotsHeldBack += machine.snapshotsHeldBack
        result.leaseReadsServed += Int(machine.leaseReadsServed)
    }

    func fail(_ code: Violation.Code, _ message: String) {
        guard result.violation == nil else { return }
        result.violation = Violation(code, "at \(time) ms: \(message)")
        log("VIOLATION \(code): \(message)")
    }

    // MARK: Events

    func handle(_ kind: Event.Kind) {
        switch kind {
        case .world:
            worldTick()
            schedule(.world, after: NodeSimParameters.tickMilliseconds)
        case .tick(let index, let generation):
            let node = nodes[index]
            guard node.generation == generation, node.isUp else { return }
            schedule(.tick(index, generation: generation), after: node.tickPeriod)
            if node.paused {
                node.missedTicks += 1
                return
            }
            step(index) { machine, out in machine.advanceClock(to: now(index), into: &out) }
        case .deliver(let index, let message):
            guard takes(kind, node: index, generation: nil) else { return }
            step(index) { machine, out in machine.step(.message(message), now: now(index), into: &out) }
        case .persisted(let index, let generation):
            guard takes(kind, node: index, generation: generation) else { return }
            persisted(index)
        case .imageRead(let index, let generation, let image):
            guard takes(kind, node: index, generation: generation) else { return }
            step(index) { machine, out in machine.imageBuilt(image, into: &out) }
        case .snapshotStatus(let index, let generation, let peer, let succeeded):
            guard takes(kind, node: index, generation: generation) else { return }
            step(index) { machine, out in machine.step(.snapshotStatus(peer, succeeded: succeeded), now: now(index), into: &out) }
        case .restart(let index):
            guard restartsCrashedNodes, !nodes[index].isUp else { return }
            boot(index)
        case .resume(let index, let generation):
            resume(index, generation: generation)
        }
    }

    /// Whether node `index` handles `kind` now: it is up (in the life `generation`, when the event
    /// belongs to one) and not paused. A paused node keeps the event for when it resumes.
    func takes(_ kind: Event.Kind, node index: Int, generation: Int?) -> Bool {
        let node = nodes[index]
        guard node.isUp, generation == nil || generation == node.generation else { return false }
        guard node.paused else { return true }
        node.deferred.append(kind)
        return false
    }

    /// The machine's clock on node `index`: time since this life began, as its drifting clock
    /// counts it (a node whose tick period is longer than nominal has a clock that runs slow), so
    /// the clock and the ticks agree: the k-th tick fires when the clock reads k nominal periods.
    func now(_ index: Int) -> Duration { local(index, at: time) }

    /// A lease read was just confirmed on node `index`: no node may lead in a newer term (it would
    /// have needed votes the lease's voters promised not to give yet).
    func checkLease(of index: Int) {
        guard let term = nodes[index].machine?.status.term else { return }
        for other in nodes.indices where other != index {
            guard let status = nodes[other].machine?.status, status.role == .leader, status.term > term else { continue }
            fail(
                .leaseOverlap,
                "n\(nodes[index].id) served a read from its lease in term \(term) while n\(nodes[other].id) leads in term \(status.term)")
        }
    }

    /// Global time `at` on node `index`'s clock.
    func local(_ index: Int, at global: Int) -> Duration {
        let node = nodes[index]
        let elapsed = Int64(global - node.bootTime)
        return .microseconds(elapsed * 1000 * Int64(NodeSimParameters.tickMilliseconds) / Int64(node.tickPeriod))
    }

    /// Runs `body` on a node's machine, performs its output, checks, and starts a Ready if one is due.
    func step(_ index: Int, _ body: (NodeMachine, inout NodeOutput) -> Void) {
        guard let machine = nodes[index].machine else { return }
        var out = NodeOutput()
        let leaseReads = machine.leaseReadsServed
        body(machine, &out)
        if machine.leaseReadsServed != leaseReads { checkLease(of: index) }
        perform(index, out)
        pump(index)
        machine.checkInvariants()
        checker.recordApplied(nodes[index].store.takeAppliedDigests(), node: nodes[index].id, run: self)
        for leaseID in nodes[index].store.takeRevokesApplied() { checker.revokeApplied(leaseID, by: nodes[index], run: self) }
    }

    func pump(_ index: Int) {
        let node = nodes[index]
        guard let machine = node.machine, !node.paused, node.writing == nil, let start = machine.startReady() else { return }
        if options.verbose != nil {
            let entries = start.work.entries
            log("n\(node.id) writes \(entries.isEmpty ? "no entries" : "entries \(entries.first!.index)...\(entries.last!.index)")"
                + "\(start.work.hardState.map { " hard state \($0)" } ?? "")\(start.work.snapshot.map { " snapshot \($0.metadata.index)" } ?? ""), "
                + "applies \(start.work.committed.count)")
        }
        send(from: index, start.early)
        node.writing = start.work
        var delay = random.between(0...parameters.syncDelayMaxMilliseconds)
        if !healing, random.chance(permille: parameters.slowSyncPermille) {
            delay = delay * Self.slowSyncFactor + Self.slowSyncExtraMilliseconds
        }
        schedule(.persisted(index, generation: node.generation), after: delay)
    }

    func persisted(_ index: Int) {
        let node = nodes[index]
        guard let work = node.writing else { preconditionFailure("persisted without a Ready in flight") }
        node.writing = nil
        if !healing, work.writesLog || work.snapshot != nil, random.chance(permille: parameters.failedSyncPermille) {
            node.store.failNextSync = true
            result.diskFailures += 1
            log("n\(node.id) disk write fails")
        }
        let outcome = Result { try work.run(on: node.store) }
        step(index) { machine, out in machine.finishReady(outcome, now: now(index), into: &out) }
        if let halted = node.machine?.halted {
            // A write the store refused (rather than a simulated disk failure) would halt a real
            // node just the same, on a log it damaged: a bug, not a fault.
            if !halted.message.contains(MemoryStore.simulatedFailure) {
                fail(.storageRefused, "n\(node.id) halted: \(halted.message)")
                return
            }
            // A real node exits on a storage failure (as etcd panics); its supervisor restarts it.
            log("n\(node.id) halted: \(halted.message)")
            crash(index)
        }
    }

    /// Performs a step's output: sends, answers, image reads.
    func perform(_ index: Int, _ out: NodeOutput) {
        let node = nodes[index]
        send(from: index, out.messages)
        for reply in out.replies {
            // A client that gave up on a request has moved on: the late answer is not for its new one.
            guard let (client, sequence) = node.requests.removeValue(forKey: reply.id), clients[client].sequence == sequence else { continue }
            finish(client, reply.result)
        }
        for reply in out.leaseReplies {
            guard let (client, sequence) = node.leaseRequests.removeValue(forKey: reply.id), clients[client].sequence == sequence else { continue }
            finishKeepAlive(client, reply.result)
        }
        for (waiterID, found) in out.leaderWaits {
            guard let (client, sequence) = node.leaderWaits.removeValue(forKey: waiterID), clients[client].sequence == sequence else { continue }
            if found { submit(client) } else { clients[client].operation = nil }
        }
        if let source = out.imageToBuild { readImage(index, source) }
    }

    func readImage(_ index: Int, _ source: ImageSource) {
        let image = Result { SnapshotImage(metadata: source.metadata, data: try source.reader.read()) }
        schedule(.imageRead(index, generation: nodes[index].generation, image), after: random.between(0...parameters.imageDelayMaxMilliseconds))
    }

    // MARK: Network

    func send(from index: Int, _ messages: [PeerMessage]) {
        for message in messages {
            if options.verbose != nil, case .raft(let raft) = message {
                log("n\(raft.from) -> n\(raft.to) \(raft.type) term \(raft.term) index \(raft.index) logTerm \(raft.logTerm) entries \(raft.entries.count) commit \(raft.commit)\(raft.reject ? " reject" : "")")
            }
            if case .raft(let raft) = message { checker.checkSent(raft, by: nodes[index], run: self) }
            guard let target = nodes.firstIndex(where: { $0.id == message.to }) else { continue }
            let delivered = !blocked(index, target) && !(!healing && random.chance(permille: parameters.dropPermille))
            if case .raft(let raft) = message, raft.type == .installSnapshot {
                // The transport reports whether the snapshot got through (KeelTransport does, after writing it).
                let delay = random.between(1...parameters.delayMaxMilliseconds)
                schedule(.snapshotStatus(index, generation: nodes[index].generation, peer: message.to, succeeded: delivered), after: delay)
            }
            guard delivered else { continue }
            schedule(.deliver(target, message), after: random.between(1...parameters.delayMaxMilliseconds))
            // Only Raft messages may be duplicated: the transport never re-sends a forwarded proposal.
            if case .raft = message, random.chance(permille: parameters.duplicatePermille) {
                schedule(.deliver(target, message), after: random.between(1...parameters.delayMaxMilliseconds * 3))
            }
        }
    }

    func blocked(_ from: Int, _ to: Int) -> Bool {
        guard let groups else { return false }
        return groups[from] != groups[to]
    }

    // MARK: Faults

    func worldTick() {
        if !healing {
            if random.chance(permille: parameters.crashPermille), let index = pick({ $0.isUp }) { crash(index) }
            if random.chance(permille: parameters.pausePermille), let index = pickToPause() { pause(index) }
            if groups == nil, random.chance(permille: parameters.partitionPermille) {
                partition()
            } else if groups != nil, oldLeaderReads == nil, random.chance(permille: parameters.healPermille) {
                groups = nil
                log("partition healed")
            }
            if parameters.leaseReads, groups == nil, random.chance(permille: Self.leaderIsolationPermille),
                let leader = nodes.indices.first(where: { nodes[$0].machine?.status.role == .leader && !nodes[$0].paused })
            {
                var assignment = nodes.indices.map { _ in 0 }
                assignment[leader] = 1
                groups = assignment
                oldLeaderReads = (leader, time + Self.oldLeaderReadTicks * NodeSimParameters.tickMilliseconds)
                log("leader n\(nodes[leader].id) cut off; reads go to it while the others elect and write")
            }
        }
        if let probe = oldLeaderReads {
            if time >= probe.until || healing {
                oldLeaderReads = nil
            } else {
                // Idle clients move: one reads from the old leader, the rest write on the majority.
                let idle = clients.indices.filter { clients[$0].operation == nil }
                for (position, client) in idle.enumerated() {
                    let others = nodes.indices.filter { $0 != probe.node }
                    clients[client].node = position == 0 ? probe.node : others[random.below(others.count)]
                    start(client, kind: position == 0 ? .read : .put)
                }
            }
        }
        for client in clients.indices where clients[client].operation == nil {
            if healing {
                // The healed phase needs one write to complete; then the clients stop, so the
                // replicas can be compared at one applied index.
                if !checker.writesAckedAfter(healTime: healTime), random.chance(permille: Self.healedWritePermille) { start(client, kind: .put) }
            } else if random.chance(permille: parameters.clientOpPermille) {
                start(client, kind: nil)
            }
        }
        for client in clients.indices {
            if let operation = clients[client].operation, time > operation.deadline + Self.clientPatienceTicks * NodeSimParameters.tickMilliseconds {
                // The node never answered (it crashed or stopped): the client gives up.
                clients[client].operation = nil
            }
        }
    }

    var healTime: Int { options.faultTicks * NodeSimParameters.tickMilliseconds }

    /// Lease seeds: chance per tick of cutting the leader off and reading from it.
    static let leaderIsolationPermille = 15
    /// How long reads go to the cut-off leader: beyond any lease (an election timeout at most).
    static let oldLeaderReadTicks = 30

    /// Any running node; in lease seeds the leader half the time: a leader stopped longer than an
    /// election timeout, then resumed, is the process whose lease must be judged by the clock.
    func pickToPause() -> Int? {
        if parameters.leaseReads, random.chance(permille: 500),
            let leader = nodes.indices.first(where: { nodes[$0].machine?.status.role == .leader && !nodes[$0].paused })
        {
            return leader
        }
        return pick { $0.isUp && !$0.paused }
    }

    func pick(_ predicate: (SimNode) -> Bool) -> Int? {
        let candidates = nodes.indices.filter { predicate(nodes[$0]) }
        return candidates.isEmpty ? nil : candidates[random.below(candidates.count)]
    }

    func partition() {
        var assignment = nodes.indices.map { _ in 0 }
        switch random.below(3) {
        case 0: assignment[random.below(nodes.count)] = 1
        case 1: for index in nodes.indices where random.chance(permille: 500) { assignment[index] = 1 }
        default: for index in nodes.indices { assignment[index] = random.below(3) }
        }
        groups = assignment
        log("partition \(assignment)")
    }

    func crash(_ index: Int) {
        let node = nodes[index]
        guard let machine = node.machine else { return }
        count(machine)
        node.machine = nil
        node.store.crash()
        node.generation += 1
        node.writing = nil
        node.paused = false
        node.deferred = []
        node.missedTicks = 0
        node.requests = [:]
        node.leaderWaits = [:]
        node.leaseRequests = [:]
        for client in clients.indices where clients[client].node == index { clients[client].operation = nil }
        result.crashes += 1
        log("n\(node.id) crashed")
        schedule(.restart(index), after: healing ? 0 : random.between(Self.downTicks) * NodeSimParameters.tickMilliseconds)
    }

    func boot(_ index: Int) {
        let node = nodes[index]
        let restored: RestoredState
        let imageMissing: Bool
        do {
            (restored, imageMissing) = try NodeMachine.restore(from: node.store)
        } catch {
            fail(.liveness, "n\(node.id) cannot restart from its disk: \(error)")
            return
        }
        var config = NodeConfig(
            name: "n\(node.id)", dataDirectory: "", members: members, selfID: node.id, clusterID: 1, clusterToken: "sim", isNewCluster: false)
        config.tickInterval = .milliseconds(NodeSimParameters.tickMilliseconds)
        config.electionTimeoutTicks = 10
        config.snapshotEntries = parameters.snapshotEntries
        config.snapshotCatchUpEntries = parameters.snapshotCatchUpEntries
        config.pendingProposalsMax = parameters.pendingRequestsMax
        config.readMode = parameters.leaseReads ? .lease : .readIndex
        config.leaseClockDriftBoundTicks = parameters.leaseClockDriftBoundTicks
        config.leaseCheckpointInterval = .milliseconds(parameters.leaseCheckpointIntervalMilliseconds)
        let machine = NodeMachine(
            config: config, restored: restored, coreImageMissing: imageMissing, store: node.store,
            firstRequestID: random.next() >> 1, random: random.fork(), logger: logger)
        // As the server does at start: the lessor learns the leases the state machine holds.
        machine.loadLeases((try? node.store.leases()) ?? [], now: .zero)
        node.machine = machine
        node.bootTime = time
        if imageMissing { result.restartsWithoutImage += 1 }
        if machine.needsRestartImage {
            machine.startRestartImage()
            readImage(index, node.store.openImage())
        }
        schedule(.tick(index, generation: node.generation), after: node.tickPeriod)
        if time > 0 { log("n\(node.id) restarted (applied \(node.store.appliedIndex), image missing: \(imageMissing))") }
    }

    func pause(_ index: Int) {
        let node = nodes[index]
        node.paused = true
        log("n\(node.id) paused")
        schedule(.resume(index, generation: node.generation), after: random.between(Self.pauseTicks) * NodeSimParameters.tickMilliseconds)
    }

    func resume(_ index: Int, generation: Int) {
        let node = nodes[index]
        guard node.generation == generation, node.isUp, node.paused else { return }
        node.paused = false
        log("n\(node.id) resumed (\(node.missedTicks) ticks missed, \(node.deferred.count) events waiting)")
        // The ticker fires every tick it missed at once; the events that queued up meanwhile come
        // before or after, as the executor happens to order them.
        let missed = node.missedTicks
        node.missedTicks = 0
        let deferred = node.deferred
        node.deferred = []
        let ticksFirst = random.chance(permille: 500)
        if ticksFirst, missed > 0 { step(index) { machine, out in machine.advanceClock(to: now(index), into: &out) } }
        if !ticksFirst, random.chance(permille: 500),
            let client = clients.indices.first(where: { clients[$0].node == index && clients[$0].operation == nil })
        {
            // A read that waited in the socket while the process was stopped, served before the
            // ticker runs: with leader leases, the machine must see the clock moved on.
            start(client, kind: .read)
        }
        for kind in deferred where nodes[index].generation == generation { handle(kind) }
        if !ticksFirst, missed > 0, nodes[index].generation == generation {
            step(index) { machine, out in machine.advanceClock(to: now(index), into: &out) }
        }
    }

    func heal() {
        healing = true
        groups = nil
        oldLeaderReads = nil
        log("healing: partitions removed, crashed nodes restarted, paused ones resumed")
        for index in nodes.indices {
            if !nodes[index].isUp {
                schedule(.restart(index), after: 0)
            } else if nodes[index].paused {
                schedule(.resume(index, generation: nodes[index].generation), after: 0)
            }
        }
    }

    // MARK: Clients

    func start(_ client: Int, kind forced: SimClient.Kind?, key forcedKey: [UInt8]? = nil) {
        let index = clients[client].node
        let node = nodes[index]
        guard let machine = node.machine, !node.paused else { return }
        let kind: SimClient.Kind
        if let forced {
            kind = forced
        } else if parameters.ttlLeasePermille > 0, random.chance(permille: parameters.ttlLeasePermille) {
            if clients[client].lease == nil {
                kind = .leaseGrant
            } else {
                let draw = random.below(100)
                kind = draw < 55 ? .keepAlive : (draw < 85 ? .leasePut : .leaseRevoke)
            }
        } else if random.chance(permille: parameters.readPermille) {
            kind = random.chance(permille: parameters.serializablePermille) ? .serializableRead : .read
        } else {
            kind = random.chance(permille: parameters.casPermille) ? .cas : .put
        }
        let key = forcedKey ?? Array("k\(random.below(parameters.keyCount))".utf8)
        clients[client].sequence += 1
        let value = Array("c\(client)-\(clients[client].sequence)".utf8)
        let leaseID = clients[client].lease ?? 0
        let command: KVCommand
        switch kind {
        case .leaseGrant:
            do {
                command = try machine.admitLeaseGrant(id: 0, ttlSeconds: Int64(1 + random.below(2)))
            } catch {
                return
            }
        case .keepAlive: command = .leaseCheckpoint([])
        case .leasePut: command = .put(PutRequest(key: Array("lease-\(client)".utf8), value: value, lease: leaseID))
        case .leaseRevoke:
            command = .leaseRevoke(id: leaseID)
            checker.clientRevoking(leaseID)
        case .put: command = .put(PutRequest(key: key, value: value))
        case .cas:
            let guardVersion = clients[client].seenVersion[key] ?? 0
            command = .txn(
                TxnRequest(
                    compare: [Compare(key: key, target: .version(guardVersion), result: .equal)],
                    success: [.put(PutRequest(key: key, value: value))], failure: [.range(RangeRequest(key: key))]))
        case .read, .serializableRead: command = .range(RangeRequest(key: key))
        }
        let operation = SimClient.Operation(
            kind: kind, key: key, value: value, command: command, deadline: time + Self.requestTimeoutTicks * NodeSimParameters.tickMilliseconds,
            floorAtStart: checker.floorRevision, keyFloorAtStart: checker.floorRevision(of: key), generation: node.generation,
            startTime: time, leaseID: leaseID)
        clients[client].operation = operation
        if kind == .keepAlive {
            startKeepAlive(client)
            return
        }
        if kind == .serializableRead {
            // Served at once from this node's applied state, as the server does: may be stale.
            let response = Result { () throws(KeelError) -> KVResponse in
                do { return try node.store.read(command) } catch { throw KeelError(.internal, "\(error)") }
            }
            finish(client, response)
            return
        }
        let deadline = local(index, at: operation.deadline)
        do {
            if kind == .read { try machine.admitRead() } else { clients[client].operation?.data = try machine.admitWrite(command) }
        } catch {
            clients[client].operation = nil
            return
        }
        switch machine.waitForLeader(deadline: deadline, now: now(index)) {
        case .known: submit(client)
        case .gaveUp: clients[client].operation = nil
        case .waiting(let waiterID): node.leaderWaits[waiterID] = (client, clients[client].sequence)
        }
    }

    /// Proposes (or starts the read of) the client's operation once a leader is known.
    func submit(_ client: Int) {
        guard let operation = clients[client].operation else { return }
        let index = clients[client].node
        let node = nodes[index]
        guard let machine = node.machine, node.generation == operation.generation else {
            clients[client].operation = nil
            return
        }
        let deadline = local(index, at: operation.deadline)
        var out = NodeOutput()
        do {
            let requestID: UInt64
            if operation.kind == .read {
                let leaseReads = machine.leaseReadsServed
                requestID = try machine.startLinearizableRead(operation.command, deadline: deadline, now: now(index), into: &out)
                if machine.leaseReadsServed != leaseReads { checkLease(of: index) }
            } else {
                requestID = try machine.propose(operation.data, deadline: deadline, into: &out)
            }
            node.requests[requestID] = (client, clients[client].sequence)
        } catch {
            clients[client].operation = nil
        }
        perform(index, out)
        pump(index)
    }

    func finish(_ client: Int, _ response: Result<KVResponse, KeelError>) {
        guard let operation = clients[client].operation else { return }
        clients[client].operation = nil
        if case .failure(let error) = response, [.put, .cas, .leasePut].contains(operation.kind), error.code != .unknownOutcome {
            checker.failedDefinitely(value: operation.value)
        }
        if case .failure(let error) = response, error.code == .notFound, operation.leaseID != 0 { clients[client].lease = nil }
        guard case .success(let value) = response else { return }
        let node = nodes[clients[client].node]
        switch (operation.kind, value) {
        case (.put, .put(let put)):
            result.writesAcked += 1
            checker.acknowledged(key: operation.key, value: operation.value, revision: put.revision, origin: node, run: self)
        case (.cas, .txn(let txn)):
            if txn.succeeded {
                result.writesAcked += 1
                checker.acknowledged(key: operation.key, value: operation.value, revision: txn.revision, origin: node, run: self)
            } else if case .range(let range)? = txn.responses.first {
                clients[client].seenVersion[operation.key] = range.kvs.first?.version ?? 0
            }
        case (.leaseGrant, .leaseGrant(let id, let ttlSeconds)):
            result.leasesGranted += 1
            clients[client].lease = id
            checker.leaseRenewed(id, remainingMilliseconds: ttlSeconds * 1000, sentAt: operation.startTime, run: self)
        case (.leasePut, .put):
            // Not an acknowledged write the final state must hold: the lease may expire and take it.
            break
        case (.leaseRevoke, .leaseRevoke):
            result.leasesRevokedByClients += 1
            clients[client].lease = nil
        case (.read, .range(let range)), (.serializableRead, .range(let range)):
            if operation.kind == .read { result.readsServed += 1 }
            clients[client].seenVersion[operation.key] = range.kvs.first?.version ?? 0
            checker.read(operation, range, linearizable: operation.kind == .read, by: node, run: self)
        default:
            fail(.wrongResponse, "\(operation.kind) answered with \(value)")
        }
    }

    /// Sends a keepalive to the primary lessor (through the client's node), as the server's
    /// LeaseKeepAlive does.
    func startKeepAlive(_ client: Int) {
        guard let operation = clients[client].operation else { return }
        let index = clients[client].node
        let node = nodes[index]
        guard let machine = node.machine else { return }
        var out = NodeOutput()
        do {
            switch try machine.startLeaseRequest(
                .renew, leaseID: operation.leaseID, now: now(index), deadline: local(index, at: operation.deadline), into: &out)
            {
            case .answered(let answer): finishKeepAlive(client, answer)
            case .waiting(let requestID): node.leaseRequests[requestID] = (client, clients[client].sequence)
            }
        } catch {
            clients[client].operation = nil
        }
        perform(index, out)
        pump(index)
    }

    func finishKeepAlive(_ client: Int, _ answer: Result<LeaseTimes, KeelError>) {
        guard let operation = clients[client].operation, operation.kind == .keepAlive else { return }
        clients[client].operation = nil
        switch answer {
        case .success(let times):
            result.keepalivesAcked += 1
            checker.leaseRenewed(operation.leaseID, remainingMilliseconds: times.remainingMilliseconds, sentAt: operation.startTime, run: self)
        case .failure(let error) where error.code == .notFound:
            clients[client].lease = nil
        case .failure:
            break
        }
    }

    // MARK: Convergence

    /// After healing: every node up, one leader, a write acknowledged after healing, and every node
    /// applied everything committed with identical states holding every acknowledged write.
    func converged() -> Bool {
        guard checker.writesAckedAfter(healTime: healTime) else { return false }
        guard nodes.allSatisfy({ $0.isUp && !$0.paused }) else { return false }
        guard clients.allSatisfy({ $0.operation == nil }) else { return false }
        let machines = nodes.compactMap(\.machine)
        let leaders = Set(machines.map(\.status.leader))
        guard leaders.count == 1, let leader = leaders.first, leader != .none else { return false }
        let commits = Set(machines.map(\.status.commit))
        let applied = Set(nodes.map(\.store.appliedIndex))
        guard commits.count == 1, applied.count == 1, applied.first == commits.first else { return false }
        let states = Set(nodes.map(\.store.kv))
        guard states.count == 1, let state = states.first else {
            fail(.divergence, "replicas applied through \(applied.first!) but hold \(states.count) different states")
            return true
        }
        checker.checkFinal(state, run: self)
        return true
    }

    func convergenceStatus() -> String {
        nodes.map { node in
            guard let machine = node.machine else { return "n\(node.id) down" }
            let status = machine.status
            return "n\(node.id) \(status.role) term \(status.term) leader \(status.leader) commit \(status.commit) applied \(node.store.appliedIndex)\(node.paused ? " paused" : "")\(node.writing != nil ? " writing" : "")"
        }.joined(separator: "; ") + "; writes acked after healing: \(checker.writesAckedAfter(healTime: healTime)); clients waiting: \(clients.filter { $0.operation != nil }.count)"
    }
}

/// A min-heap of events by (time, sequence): the simulation's clock.
struct EventQueue {
    private var heap = MinHeap<NodeSimRun.Event> { a, b in a.time != b.time ? a.time < b.time : a.sequence < b.sequence }

    mutating func push(_ event: NodeSimRun.Event) { heap.push(event) }

    mutating func pop() -> NodeSimRun.Event? { heap.pop() }

    /// When the next event happens.
    var nextTime: Int? { heap.first?.time }
}
