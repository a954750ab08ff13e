// A tiny deterministic network for the paper-claim tests: it runs a few RaftNodes in one process,
// acts as their host (persist, send, apply, advance) and delivers messages in FIFO order. Faults
// are explicit and few: cut links, drop or hold messages. Randomised faults are the simulator's job.

@testable import Raft

/// A fixed-seed SplitMix64 so tests replay exactly.
struct TestRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// What one node's host has made durable and applied.
struct HostState {
    var hardState = HardState.initial
    var snapshot: Snapshot?
    var entries: [Entry] = []
    var applied: [Entry] = []
    var appliedIndex = LogIndex.zero
    var confState = ConfState()
    var readStates: [ReadState] = []
}

final class TestNetwork {
    var nodes: [NodeID: RaftNode] = [:]
    var hosts: [NodeID: HostState] = [:]
    var configs: [NodeID: RaftConfig] = [:]
    /// Messages sent and not yet delivered, in send order.
    var inFlight: [Message] = []
    /// Directed links that drop everything.
    var cut: Set<[UInt64]> = []
    /// Every message ever delivered (for assertions about traffic).
    var delivered: [Message] = []
    /// Messages the host handed out but did not send because of `cut`.
    var dropped: [Message] = []

    /// Builds a cluster of `ids` bootstrapped together; `tweak` adjusts each config.
    init(ids: [UInt64], tweak: (inout RaftConfig) -> Void = { _ in }) {
        for raw in ids {
            let id = NodeID(raw)
            var config = RaftConfig(id: id)
            tweak(&config)
            configs[id] = config
            let restored = RestoredState.bootstrap(voters: ids.map(NodeID.init))
            nodes[id] = RaftNode(config: config, restored: restored, random: TestRandom(seed: raw))
            var host = HostState()
            host.hardState = restored.hardState
            host.snapshot = Snapshot(metadata: restored.snapshot!)
            host.appliedIndex = restored.applied
            host.confState = restored.confState
            hosts[id] = host
        }
    }

    /// Builds a cluster whose members start from the given durable states (to stage a scenario
    /// such as Figure 8); every log starts after the bootstrap snapshot at index 1.
    init(logs: [UInt64: (term: UInt64, entryTerms: [UInt64])], tweak: (inout RaftConfig) -> Void = { _ in }) {
        let ids = logs.keys.sorted()
        let boot = RestoredState.bootstrap(voters: ids.map(NodeID.init))
        for raw in ids {
            let id = NodeID(raw)
            var config = RaftConfig(id: id)
            tweak(&config)
            configs[id] = config
            let (term, entryTerms) = logs[raw]!
            let entries = entryTerms.enumerated().map { i, t in
                Entry(term: Term(t), index: LogIndex(UInt64(i) + 2), data: [UInt8(t), UInt8(i)])
            }
            var restored = boot
            restored.hardState.term = Term(term)
            restored.entries = entries
            nodes[id] = RaftNode(config: config, restored: restored, random: TestRandom(seed: raw))
            var host = HostState()
            host.hardState = restored.hardState
            host.snapshot = Snapshot(metadata: restored.snapshot!)
            host.entries = entries
            host.appliedIndex = restored.applied
            host.confState = restored.confState
            hosts[id] = host
        }
    }

    subscript(_ raw: UInt64) -> RaftNode { nodes[NodeID(raw)]! }
    func host(_ raw: UInt64) -> HostState { hosts[NodeID(raw)]! }

    /// Adds a node that joins an existing cluster (empty state).
    func addJoiningNode(_ raw: UInt64, tweak: (inout RaftConfig) -> Void = { _ in }) {
        let id = NodeID(raw)
        var config = RaftConfig(id: id)
        tweak(&config)
        configs[id] = config
        nodes[id] = RaftNode(config: config, restored: .joining, random: TestRandom(seed: raw))
        hosts[id] = HostState()
    }

    /// Restarts a node from its host's durable state (losing all volatile state).
    func restart(_ raw: UInt64) {
        let id = NodeID(raw)
        let host = hosts[id]!
        let restored = RestoredState(
            hardState: host.hardState, snapshot: host.snapshot?.metadata, entries: host.entries,
            confState: host.confState, applied: host.appliedIndex, snapshotData: host.snapshot?.data ?? []
        )
        nodes[id] = RaftNode(config: configs[id]!, restored: restored, random: TestRandom(seed: raw &* 31))
        inFlight.removeAll { $0.to == id || $0.from == id }
    }

    func isolate(_ raw: UInt64) {
        for other in nodes.keys where other.rawValue != raw {
            cut.insert([raw, other.rawValue])
            cut.insert([other.rawValue, raw])
        }
    }

    func heal() { cut = [] }

    /// Runs one host-loop iteration on `id`: persist, queue messages, apply, advance.
    func process(_ id: NodeID) {
        let node = nodes[id]!
        while node.hasReady {
            let rd = node.ready()
            var host = hosts[id]!
            if let snap = rd.snapshot {
                host.snapshot = snap
                host.entries = []
                host.confState = snap.metadata.confState
                host.appliedIndex = snap.metadata.index
            }
            if let first = rd.entries.first {
                host.entries.removeAll { $0.index >= first.index }
                host.entries.append(contentsOf: rd.entries)
            }
            if let hs = rd.hardState { host.hardState = hs }
            for m in rd.messages {
                if cut.contains([m.from.rawValue, m.to.rawValue]) { dropped.append(m) } else { inFlight.append(m) }
            }
            hosts[id] = host
            for e in rd.committedEntries {
                if e.kind == .confChange {
                    let change = try! ConfChange(decoding: e.data)
                    let conf = node.applyConfChange(change)
                    hosts[id]!.confState = conf
                }
                hosts[id]!.applied.append(e)
                hosts[id]!.appliedIndex = e.index
            }
            hosts[id]!.readStates.append(contentsOf: rd.readStates)
            node.advance(rd)
        }
    }

    func processAll() {
        for id in nodes.keys.sorted() { process(id) }
    }

    /// Delivers one message (the oldest). Returns false when none is in flight.
    @discardableResult
    func deliverOne(filter: (Message) -> Bool = { _ in true }) -> Bool {
        guard let i = inFlight.firstIndex(where: filter) else { return false }
        let m = inFlight.remove(at: i)
        guard let node = nodes[m.to] else { return true }
        if cut.contains([m.from.rawValue, m.to.rawValue]) {
            dropped.append(m)
            return true
        }
        delivered.append(m)
        node.step(m)
        process(m.to)
        return true
    }

    /// Processes and delivers until nothing is in flight.
    func stabilize(limit: Int = 100_000) {
        processAll()
        var steps = 0
        while deliverOne() {
            steps += 1
            precondition(steps < limit, "network did not stabilize")
        }
        processAll()
    }

    func tick(_ raw: UInt64, times: Int = 1) {
        for _ in 0..<times {
            self[raw].tick()
            process(NodeID(raw))
        }
    }

    /// Ticks every node once and stabilizes, `times` times.
    func tickAll(times: Int = 1) {
        for _ in 0..<times {
            for id in nodes.keys.sorted() { nodes[id]!.tick() }
            stabilize()
        }
    }

    /// Makes `raw` leader by campaigning and stabilizing.
    func elect(_ raw: UInt64) {
        self[raw].campaign()
        stabilize()
    }

    var leaders: [NodeID] { nodes.keys.sorted().filter { nodes[$0]!.status.role == .leader } }

    /// Proposes on `raw` and stabilizes.
    func propose(_ raw: UInt64, _ bytes: [UInt8]) throws(RaftError) {
        try self[raw].propose(bytes)
        stabilize()
    }
}
