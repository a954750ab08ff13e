// `kill`: SIGKILL some members; the heal restarts every member that is down, on its data.
import Foundation

/// Crashes one member, a minority, a majority, all of them, or the leader, with SIGKILL.
public struct KillNemesis: Nemesis {
    /// `kill`.
    public let name = "kill"

    /// A kill nemesis.
    public init() {}

    /// Kills a random target set.
    public func inject(into cluster: TestCluster, random: inout SplitMix64) async throws -> String {
        let nodes = cluster.nodes.filter { $0.pid != nil }
        guard !nodes.isEmpty else { return "nothing to kill" }
        let count = nodes.count
        let targets: [ServerNode]
        let how: String
        switch Int.random(in: 0..<5, using: &random) {
        case 0: (targets, how) = (pick(1, of: nodes, random: &random), "one")
        case 1: (targets, how) = (pick(max(1, (count - 1) / 2), of: nodes, random: &random), "minority")
        case 2: (targets, how) = (pick(count / 2 + 1, of: nodes, random: &random), "majority")
        case 3: (targets, how) = (nodes, "all")
        default:
            if let leader = await cluster.leader() {
                (targets, how) = ([leader], "leader")
            } else {
                (targets, how) = (pick(1, of: nodes, random: &random), "one (no leader known)")
            }
        }
        let killed = targets
        await Blocking.run { for node in killed { node.kill() } }
        return "killed \(how): \(names(targets))"
    }

    /// Restarts every member that is not running.
    public func heal(_ cluster: TestCluster) async throws -> String {
        let restarted = try await Blocking.run { () throws -> [ServerNode] in
            var restarted: [ServerNode] = []
            for node in cluster.nodes where !node.isRunning() && !node.isRemoved {
                try cluster.restart(node)
                restarted.append(node)
            }
            return restarted
        }
        return restarted.isEmpty ? "all running" : "restarted \(names(restarted))"
    }
}
