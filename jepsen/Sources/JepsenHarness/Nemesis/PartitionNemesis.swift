// `partition`: iptables rules inside the nodes' namespaces drop packets between chosen members.
import Foundation

/// Cuts the network into shapes: majority/minority halves, the leader alone, a bridge (two
/// majorities that share one node), a ring (each node sees only its neighbours), or one way (a node
/// hears nobody while everybody hears it).
public struct PartitionNemesis: Nemesis {
    /// `partition`.
    public let name = "partition"

    /// The shapes a fault is drawn from.
    public enum Shape: String, CaseIterable, Sendable {
        /// A random majority and the minority, cut both ways.
        case halves
        /// The current leader cut off from everyone, both ways.
        case isolateLeader = "isolate-leader"
        /// Two halves that both include one bridge node; only the bridge sees everyone.
        case bridge
        /// Nodes on a ring, each connected only to the nodes nearest it on both sides, just enough of
        /// them that each sees a majority, and no two see the same one (needs at least four nodes).
        case ring
        /// One node (the leader half the time) drops every packet it receives; the others still
        /// receive what it sends. Datagrams flow one way; TCP, which needs acknowledgements, stalls
        /// both ways once the segments in flight are gone, so this is mostly an inbound cut.
        case oneWay = "one-way"
    }

    /// A partition nemesis.
    public init() {}

    /// Draws a shape and applies it.
    public func inject(into cluster: TestCluster, random: inout SplitMix64) async throws -> String {
        var shapes = Shape.allCases
        if cluster.nodes.count < 4 { shapes.removeAll { $0 == .ring } }
        let shape = shapes.randomElement(using: &random)!
        let leader = await cluster.leader()
        let (drops, description) = Self.plan(shape, nodes: cluster.nodes, leader: leader, random: &random)
        let pairs = drops.map { Pair(from: $0.from, to: $0.to) }
        try await Blocking.run { try Self.apply(pairs.map { ($0.from, $0.to) }, in: cluster) }
        return description
    }

    /// Which packets to drop, as (from, to) pairs: packets from `from` are dropped when they reach `to`.
    public static func plan(
        _ shape: Shape, nodes: [ServerNode], leader: ServerNode?, random: inout SplitMix64
    ) -> (drops: [(from: ServerNode, to: ServerNode)], description: String) {
        var drops: [(from: ServerNode, to: ServerNode)] = []
        func cut(_ a: [ServerNode], _ b: [ServerNode]) {
            for x in a { for y in b where x !== y { drops.append((x, y)); drops.append((y, x)) } }
        }
        let shuffled = nodes.shuffled(using: &random)
        switch shape {
        case .halves:
            let minority = Array(shuffled.prefix((nodes.count - 1) / 2 == 0 ? 1 : (nodes.count - 1) / 2))
            let majority = shuffled.filter { node in !minority.contains { $0 === node } }
            cut(majority, minority)
            return (drops, "halves: \(names(majority)) | \(names(minority))")
        case .isolateLeader:
            let alone = leader ?? shuffled[0]
            let rest = nodes.filter { $0 !== alone }
            cut([alone], rest)
            let what = leader == nil ? "isolate one node (no leader known)" : "isolate leader"
            return (drops, "\(what): \(alone.name) | \(names(rest))")
        case .bridge:
            let bridge = shuffled[0]
            let others = Array(shuffled.dropFirst())
            let left = Array(others.prefix(others.count / 2))
            let right = Array(others.dropFirst(others.count / 2))
            cut(left, right)
            return (drops, "bridge: \(names(left)) <- \(bridge.name) -> \(names(right))")
        case .ring:
            let count = shuffled.count
            // Each node keeps the nodes within `reach` on both sides: 2 × reach + 1 is a majority.
            let majority = count / 2 + 1
            let reach = (majority - 1 + 1) / 2
            for (i, node) in shuffled.enumerated() {
                for (j, other) in shuffled.enumerated() where i != j {
                    let distance = min((i - j + count) % count, (j - i + count) % count)
                    if distance > reach { drops.append((other, node)) }
                }
            }
            return (drops, "ring: " + names(shuffled) + " (each sees the \(2 * reach) nearest)")
        case .oneWay:
            let deaf = (leader != nil && Bool.random(using: &random)) ? leader! : shuffled[0]
            for other in nodes where other !== deaf { drops.append((other, deaf)) }
            return (drops, "one way: \(deaf.name) hears nobody, everybody hears \(deaf.name) (TCP stalls both ways)")
        }
    }

    /// Adds a DROP rule in `to`'s namespace for each pair.
    public static func apply(_ drops: [(from: ServerNode, to: ServerNode)], in cluster: TestCluster) throws {
        for (from, to) in drops {
            do {
                try to.inNamespace(["iptables", "-w", Self.iptablesLockWaitSeconds, "-A", "INPUT", "-s", from.address, "-j", "DROP"])
            } catch {
                throw HarnessError(.setupFailed, "cannot partition \(from.name) -> \(to.name): \(error)")
            }
        }
    }

    /// Flushes the INPUT rules of every namespace.
    public func heal(_ cluster: TestCluster) async throws -> String {
        try await Blocking.run {
            for node in cluster.nodes {
                do {
                    try node.inNamespace(["iptables", "-w", Self.iptablesLockWaitSeconds, "-F", "INPUT"])
                } catch {
                    throw HarnessError(.setupFailed, "cannot heal the partition at \(node.name): \(error)")
                }
            }
        }
        return "network healed"
    }

    /// Seconds iptables waits for the xtables lock before it fails (never forever).
    static let iptablesLockWaitSeconds = "10"

    /// A (from, to) pair that can cross into blocking work.
    private struct Pair: Sendable {
        let from: ServerNode
        let to: ServerNode
    }
}
