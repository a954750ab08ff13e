// A hand-driven cluster for scenario scripts: no randomness in the network, messages wait in one
// FIFO queue until a command delivers them, every Ready is synced at once, and everything that
// happens is described in words for the expected trace.

import Raft

/// A cluster driven command by command, narrating what happens.
final class ScenarioCluster {
    /// A scenario message longer than this many deliveries without quiescence is a runaway.
    static let stabilizeDeliveriesMax = 10_000

    struct Node {
        var config: RaftConfig
        var raft: RaftNode?
        var durable: DurableState
        var values: [String] = []
        var applied: LogIndex = .zero
        var incarnation = 0
        var lastSeen = ""
    }

    private(set) var nodes: [NodeID: Node] = [:]
    private var queue: [Message] = []
    private var cut: Set<[UInt64]> = []
    private var random = SimRandom(seed: 1)
    var out: [String] = []
    private var defaults: (RaftConfig) -> RaftConfig = { $0 }

    var ids: [NodeID] { nodes.keys.sorted() }

    // MARK: Membership of the harness

    /// Bootstraps voters `1...count` with the given configuration tweaks.
    func addNodes(_ count: Int, options: [String: String]) throws(ScenarioError) {
        defaults = { base in
            var c = base
            c.electionTimeoutTicks = Int(options["election"] ?? "") ?? 10
            c.preVote = options["prevote"] != "false"
            c.checkQuorum = options["checkquorum"] != "false"
            if options["lease"] == "true" { c.readOnlyMode = .leaseBased }
            if let n = Int(options["batch"] ?? "") { c.proposalBatchMaxEntries = n }
            if let n = Int(options["inflight"] ?? "") { c.inflightMessagesMax = n }
            return c
        }
        let voters = (1...count).map { NodeID(UInt64($0)) }
        let boot = RestoredState.bootstrap(voters: voters)
        for id in voters {
            let durable = DurableState(hardState: boot.hardState, snapshot: Snapshot(metadata: boot.snapshot!, data: []))
            nodes[id] = Node(config: defaults(RaftConfig(id: id)), raft: nil, durable: durable)
            start(id)
        }
        for id in voters { describeChange(id) }
    }

    /// Starts an empty node that will join through a membership change.
    func addJoiningNode(_ id: NodeID) throws(ScenarioError) {
        guard nodes[id] == nil else { throw ScenarioError("node \(id) exists") }
        nodes[id] = Node(config: defaults(RaftConfig(id: id)), raft: nil, durable: DurableState(hardState: .initial, snapshot: nil))
        start(id)
        describeChange(id)
    }

    private func start(_ id: NodeID) {
        var n = nodes[id]!
        n.raft = RaftNode(config: n.config, restored: n.durable.restored, random: random.fork())
        n.incarnation += 1
        n.values = Self.decode(n.durable.snapshot?.data ?? [])
        n.applied = n.durable.snapshot?.metadata.index ?? .zero
        nodes[id] = n
    }

    func crash(_ id: NodeID) throws(ScenarioError) {
        guard nodes[id]?.raft != nil else { throw ScenarioError("node \(id) is not running") }
        nodes[id]!.raft = nil
        out.append("\(id) crashed")
    }

    func restart(_ id: NodeID) throws(ScenarioError) {
        guard let n = nodes[id], n.raft == nil else { throw ScenarioError("node \(id) is running") }
        start(id)
        out.append("\(id) restarted from disk: \(describeDisk(id))")
        nodes[id]!.lastSeen = ""
        describeChange(id)
    }

    func partition(_ groups: [[NodeID]]) {
        cut = []
        for (i, g) in groups.enumerated() {
            for (j, h) in groups.enumerated() where i != j {
                for a in g { for b in h { cut.insert([a.rawValue, b.rawValue]) } }
            }
        }
    }

    func heal() { cut = [] }

    func raft(_ id: NodeID) throws(ScenarioError) -> RaftNode {
        guard let r = nodes[id]?.raft else { throw ScenarioError("node \(id) is not running") }
        return r
    }

    // MARK: Driving

    /// Runs `body` on the node, then its host loop, then narrates state changes.
    func act(_ id: NodeID, _ body: (RaftNode) throws(RaftError) -> Void) throws(ScenarioError) {
        let r = try raft(id)
        do {
            try body(r)
        } catch {
            out.append("\(id) refused: \(error)")
        }
        process(id)
    }

    func tick(_ id: NodeID, times: Int) throws(ScenarioError) {
        let r = try raft(id)
        for _ in 0..<times {
            r.tick()
            process(id)
        }
    }

    /// Delivers the messages queued now (not those they cause), dropping those to `drop`.
    func deliverRound(drop: Set<NodeID>, only: NodeID?) {
        let round = queue
        queue = []
        for m in round {
            if let only, m.to != only {
                queue.append(m)
                continue
            }
            let d = Self.describe(m)
            if drop.contains(m.to) {
                out.append("  \(d)  DROPPED")
                continue
            }
            if cut.contains([m.from.rawValue, m.to.rawValue]) {
                out.append("  \(d)  DROPPED (partition)")
                continue
            }
            guard let r = nodes[m.to]?.raft else {
                out.append("  \(d)  DROPPED (\(m.to) is down)")
                continue
            }
            out.append("  \(d)")
            r.step(m)
            process(m.to)
        }
    }

    func stabilize() throws(ScenarioError) {
        var delivered = 0
        while !queue.isEmpty {
            delivered += queue.count
            if delivered > Self.stabilizeDeliveriesMax { throw ScenarioError("messages never settle") }
            deliverRound(drop: [], only: nil)
        }
    }

    /// The host loop: persist, queue messages, apply, serve reads, advance.
    private func process(_ id: NodeID) {
        guard let r = nodes[id]?.raft else { return }
        while r.hasReady {
            let rd = r.ready()
            var n = nodes[id]!
            n.durable.write(hardState: rd.hardState, snapshot: rd.snapshot, entries: rd.entries)
            if let snap = rd.snapshot {
                n.values = Self.decode(snap.data)
                n.applied = snap.metadata.index
                out.append("\(id) installed snapshot at \(snap.metadata.index) (term \(snap.metadata.term), \(Self.describe(snap.metadata.confState)), state \(Self.list(n.values)))")
            }
            queue.append(contentsOf: rd.messages)
            nodes[id] = n
            for e in rd.committedEntries {
                nodes[id]!.applied = e.index
                if e.kind == .confChange {
                    if let change = try? ConfChange(decoding: e.data) {
                        let conf = r.applyConfChange(change)
                        out.append("\(id) applied \(e.index) conf change -> \(Self.describe(conf))")
                    }
                } else if !e.data.isEmpty {
                    let v = String(decoding: e.data, as: UTF8.self)
                    nodes[id]!.values.append(v)
                    out.append("\(id) applied \(e.index) \(v)")
                }
            }
            for rs in rd.readStates {
                let ctx = String(decoding: rs.context, as: UTF8.self)
                out.append("\(id) read \(ctx) served at index \(rs.index) (applied \(nodes[id]!.applied)): \(Self.list(nodes[id]!.values))")
            }
            r.advance(rd)
        }
        describeChange(id)
    }

    /// Compacts `id`'s log at its applied index, as its host would.
    func compact(_ id: NodeID) throws(ScenarioError) {
        let r = try raft(id)
        let n = nodes[id]!
        let data = Self.encode(n.values)
        r.compact(upTo: n.applied, snapshotData: data)
        nodes[id]!.durable.compact(to: Snapshot(metadata: r.log.snapshot, data: data))
        out.append("\(id) compacted its log up to \(r.log.snapshot.index)")
    }

    // MARK: Narration

    /// Prints a node's role line when it changed since last printed.
    private func describeChange(_ id: NodeID) {
        guard let r = nodes[id]?.raft else { return }
        let s = r.status
        let line = "\(id) is \(s.role) term=\(s.term) lead=\(s.leader) commit=\(s.commit) last=\(s.lastIndex)"
        let key = "\(s.role) \(s.term) \(s.leader)"
        if nodes[id]!.lastSeen != key {
            nodes[id]!.lastSeen = key
            out.append(line)
        }
    }

    func status() -> [String] {
        ids.map { id in
            guard let r = nodes[id]?.raft else { return "\(id): down, disk \(describeDisk(id))" }
            let s = r.status
            return "\(id): \(s.role) term=\(s.term) vote=\(s.vote) lead=\(s.leader) commit=\(s.commit) applied=\(s.applied) "
                + "log=\(Self.describeLog(r.log)) \(Self.describe(s.confState))"
        }
    }

    private func describeDisk(_ id: NodeID) -> String {
        let d = nodes[id]!.durable
        let entries = d.entries.map { "\($0.index)/\($0.term)" }.joined(separator: " ")
        return "term=\(d.hardState.term) vote=\(d.hardState.vote) commit=\(d.hardState.commit) snapshot=\(d.snapshot?.metadata.index ?? .zero) entries=[\(entries)]"
    }

    static func describeLog(_ log: RaftLogView) -> String {
        var parts: [String] = []
        if log.snapshot.index > .zero { parts.append("snap@\(log.snapshot.index)/\(log.snapshot.term)") }
        for e in log.entries(from: log.firstIndex, to: log.lastIndex.advanced(by: 1)) { parts.append(describe(e)) }
        return "[" + parts.joined(separator: " ") + "]"
    }

    static func describe(_ e: Entry) -> String {
        switch e.kind {
        case .confChange: return "\(e.index)/\(e.term):conf"
        case .normal: return e.data.isEmpty ? "\(e.index)/\(e.term)" : "\(e.index)/\(e.term):\(String(decoding: e.data, as: UTF8.self))"
        }
    }

    static func describe(_ c: ConfState) -> String {
        func ids(_ s: Set<NodeID>) -> String { s.sorted().map(\.description).joined(separator: ",") }
        var text = "voters=(\(ids(c.voters)))"
        if !c.votersOutgoing.isEmpty { text += "&&(\(ids(c.votersOutgoing)))" }
        if !c.learners.isEmpty { text += " learners=(\(ids(c.learners)))" }
        if !c.learnersNext.isEmpty { text += " learnersNext=(\(ids(c.learnersNext)))" }
        return text
    }

    static func describe(_ m: Message) -> String {
        let names = TraceEvent.messageTypeNames
        var text = "\(m.from)->\(m.to) \(names[Int(m.type.rawValue)]) term=\(m.term)"
        switch m.type {
        case .appendEntries:
            text += " prev=\(m.index)/\(m.logTerm) commit=\(m.commit) entries=[\(m.entries.map(describe).joined(separator: " "))]"
        case .appendEntriesResponse:
            text += m.reject ? " REJECT index=\(m.index) hint=\(m.rejectHint)/\(m.rejectHintTerm)" : " index=\(m.index)"
        case .requestVote, .preVote:
            text += " last=\(m.index)/\(m.logTerm)"
        case .requestVoteResponse, .preVoteResponse:
            text += m.reject ? " REJECT" : " GRANT"
        case .heartbeat:
            text += " commit=\(m.commit)"
        case .installSnapshot:
            if let s = m.snapshot { text += " snapshot=\(s.metadata.index)/\(s.metadata.term) \(describe(s.metadata.confState))" }
        case .readIndex:
            text += " ctx=\(String(decoding: m.context, as: UTF8.self))"
        case .readIndexResponse:
            text += " index=\(m.index) ctx=\(String(decoding: m.context, as: UTF8.self))"
        case .heartbeatResponse, .timeoutNow:
            break
        }
        return text
    }

    static func list(_ values: [String]) -> String { "[" + values.joined(separator: " ") + "]" }

    static func encode(_ values: [String]) -> [UInt8] { Array(values.joined(separator: "\n").utf8) }

    static func decode(_ data: [UInt8]) -> [String] {
        data.isEmpty ? [] : String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }
}
