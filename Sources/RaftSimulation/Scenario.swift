// Scenario scripts (etcd raft's datadriven style): blocks of a command line, `----`, and the
// expected output, separated by blank lines. Lines starting with `#` between blocks are comments.
//
//   add-nodes 3 prevote=false          bootstrap voters 1..3 (options: prevote, checkquorum, lease,
//                                       election, batch, inflight)
//   add-joining-node 4                  start an empty node to be added by a conf change
//   campaign 1 | propose 1 x | read-index 2 ctx | transfer-leader 1 3
//   conf-change 1 add-voter 4 remove 2 add-learner 5     (several steps: joint consensus)
//   tick 1 10 | tick-all 3              tick one node n times | tick every running node n times
//   deliver-msgs [drop=(2,3)] [to=2]    deliver the queued messages once (dropping those to 2, 3)
//   stabilize                           deliver until no message is left
//   partition 1 | 2 3 | heal | crash 2 | restart 2 | compact 1 | status

import Raft

/// A malformed scenario script or command.
public struct ScenarioError: Error, Sendable, CustomStringConvertible {
    /// What is wrong with the script.
    public var message: String
    /// An error saying `message`.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}

/// Runs a scenario script and produces the same script with the actual outputs.
public enum Scenario {
    /// One command and its output.
    public struct Block: Sendable, Equatable {
        /// Comment lines (`#`) before the command, kept when the script is rewritten.
        public var comments: [String]
        /// The command line.
        public var command: String
        /// The output lines after `----`.
        public var expected: [String]
    }

    /// Parses a script into blocks.
    public static func parse(_ text: String) throws(ScenarioError) -> [Block] {
        var blocks: [Block] = []
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)[...]
        var comments: [String] = []
        while let line = lines.first {
            lines = lines.dropFirst()
            if line.trimmingCharacters(in: " ").isEmpty { continue }
            if line.hasPrefix("#") {
                comments.append(line)
                continue
            }
            guard lines.first == "----" else { throw ScenarioError("command '\(line)' is not followed by ----") }
            lines = lines.dropFirst()
            var expected: [String] = []
            while let l = lines.first, !l.isEmpty {
                expected.append(l)
                lines = lines.dropFirst()
            }
            blocks.append(Block(comments: comments, command: line, expected: expected))
            comments = []
        }
        return blocks
    }

    /// Runs the blocks on a fresh cluster; returns them with actual outputs.
    public static func run(_ blocks: [Block]) throws(ScenarioError) -> [Block] {
        let cluster = ScenarioCluster()
        var actual: [Block] = []
        for b in blocks {
            cluster.out = []
            try execute(b.command, on: cluster)
            var out = cluster.out
            if out.isEmpty { out = ["ok"] }
            actual.append(Block(comments: b.comments, command: b.command, expected: out))
        }
        return actual
    }

    /// Renders blocks back into script text.
    public static func render(_ blocks: [Block]) -> String {
        blocks.map { b in
            (b.comments + [b.command, "----"] + b.expected).joined(separator: "\n")
        }.joined(separator: "\n\n") + "\n"
    }

    private static func execute(_ command: String, on c: ScenarioCluster) throws(ScenarioError) {
        let words = command.split(separator: " ").map(String.init)
        guard let verb = words.first else { throw ScenarioError("empty command") }
        let args = Array(words.dropFirst())
        func id(_ i: Int) throws(ScenarioError) -> NodeID {
            guard i < args.count, let v = UInt64(args[i]) else { throw ScenarioError("\(command): argument \(i + 1) must be a node id") }
            return NodeID(v)
        }
        func int(_ i: Int) throws(ScenarioError) -> Int {
            guard i < args.count, let v = Int(args[i]) else { throw ScenarioError("\(command): argument \(i + 1) must be a number") }
            return v
        }
        func options(from i: Int) -> [String: String] {
            var o: [String: String] = [:]
            for a in args.dropFirst(i) {
                let kv = a.split(separator: "=", maxSplits: 1).map(String.init)
                o[kv[0]] = kv.count > 1 ? kv[1] : "true"
            }
            return o
        }
        func nodeList(_ text: String) -> [NodeID] {
            text.trimmingCharacters(in: "()").split(separator: ",").compactMap { UInt64($0) }.map(NodeID.init)
        }
        switch verb {
        case "add-nodes":
            try c.addNodes(try int(0), options: options(from: 1))
        case "add-joining-node":
            try c.addJoiningNode(try id(0))
        case "campaign":
            try c.act(try id(0)) { $0.campaign() }
        case "propose":
            guard args.count == 2 else { throw ScenarioError("propose NODE VALUE") }
            try c.act(try id(0)) { (r: RaftNode) throws(RaftError) in try r.propose(Array(args[1].utf8)) }
        case "read-index":
            guard args.count == 2 else { throw ScenarioError("read-index NODE CONTEXT") }
            try c.act(try id(0)) { (r: RaftNode) throws(RaftError) in try r.readIndex(context: Array(args[1].utf8)) }
        case "transfer-leader":
            let target = try id(1)
            try c.act(try id(0)) { (r: RaftNode) throws(RaftError) in try r.transferLeadership(to: target) }
        case "conf-change":
            var steps: [ConfChangeSingle] = []
            var i = 1
            while i + 1 < args.count {
                let type: ConfChangeType
                switch args[i] {
                case "add-voter": type = .addVoter
                case "add-learner": type = .addLearner
                case "remove": type = .removeNode
                default: throw ScenarioError("unknown conf change step \(args[i])")
                }
                steps.append(ConfChangeSingle(type: type, node: try id(i + 1)))
                i += 2
            }
            let change = ConfChange(changes: steps)
            try c.act(try id(0)) { (r: RaftNode) throws(RaftError) in try r.proposeConfChange(change) }
        case "tick":
            try c.tick(try id(0), times: try int(1))
        case "tick-all":
            for _ in 0..<(try int(0)) {
                for n in c.ids where c.nodes[n]?.raft != nil { try c.tick(n, times: 1) }
            }
        case "deliver-msgs":
            let o = options(from: 0)
            let drop = Set(nodeList(o["drop"] ?? ""))
            let only = o["to"].flatMap { UInt64($0) }.map(NodeID.init)
            c.deliverRound(drop: drop, only: only)
        case "stabilize":
            try c.stabilize()
        case "partition":
            let groups = command.dropFirst("partition".count).split(separator: "|").map { g in
                g.split(separator: " ").compactMap { UInt64($0) }.map(NodeID.init)
            }
            c.partition(groups)
        case "heal":
            c.heal()
        case "crash":
            try c.crash(try id(0))
        case "restart":
            try c.restart(try id(0))
        case "compact":
            try c.compact(try id(0))
        case "status":
            c.out.append(contentsOf: c.status())
        default:
            throw ScenarioError("unknown command \(verb)")
        }
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String { String(self).trimmingCharacters(in: set) }
}
