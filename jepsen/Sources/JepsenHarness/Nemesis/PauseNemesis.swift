// `pause`: SIGSTOP some members; the heal continues them with SIGCONT.
import Foundation

/// Freezes one member, the leader, or a minority, with SIGSTOP: a process that stops answering but
/// keeps its sockets, as in a long GC pause or a stalled VM.
public struct PauseNemesis: Nemesis {
    /// `pause`.
    public let name = "pause"

    /// A pause nemesis.
    public init() {}

    /// Pauses a random target set.
    public func inject(into cluster: TestCluster, random: inout SplitMix64) async throws -> String {
        let nodes = cluster.nodes.filter { $0.pid != nil && !$0.isPaused }
        guard !nodes.isEmpty else { return "nothing to pause" }
        let targets: [ServerNode]
        let how: String
        switch Int.random(in: 0..<3, using: &random) {
        case 0: (targets, how) = (pick(1, of: nodes, random: &random), "one")
        case 1: (targets, how) = (pick(max(1, (nodes.count - 1) / 2), of: nodes, random: &random), "minority")
        default:
            if let leader = await cluster.leader() {
                (targets, how) = ([leader], "leader")
            } else {
                (targets, how) = (pick(1, of: nodes, random: &random), "one (no leader known)")
            }
        }
        for node in targets { node.pause() }
        return "paused \(how): \(names(targets))"
    }

    /// Continues every paused member.
    public func heal(_ cluster: TestCluster) async throws -> String {
        let resumed = cluster.nodes.filter { $0.resume() }
        return resumed.isEmpty ? "none paused" : "resumed \(names(resumed))"
    }
}
