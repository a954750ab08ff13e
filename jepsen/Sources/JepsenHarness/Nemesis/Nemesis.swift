// What a nemesis is: a fault it injects and the heal that undoes it. One file per nemesis; the
// schedule (TestRunner) alternates a random enabled nemesis's fault with a heal.
import Foundation

/// A kind of fault.
public protocol Nemesis: Sendable {
    /// The name given to `--nemesis`, and the suffix of its history events (`start-partition`).
    var name: String { get }

    /// Injects one fault, chosen with `random`, and describes it for the history.
    func inject(into cluster: TestCluster, random: inout SplitMix64) async throws -> String

    /// Undoes every fault of this kind (also those of a killed earlier run); safe to call when
    /// nothing is wrong. Describes what it did.
    func heal(_ cluster: TestCluster) async throws -> String

    /// Stops any background work of this nemesis before the cluster is torn down, however the run ended.
    func shutDown() async
}

extension Nemesis {
    /// Most nemeses have no background work.
    public func shutDown() async {}
}

/// The nemeses `--nemesis` accepts, by name.
public enum NemesisCatalog {
    /// Every nemesis's name.
    public static let names = ["partition", "kill", "crash", "pause", "clock", "member"]

    /// Makes the named nemesis for a cluster started with `launch`, or explains why it cannot run.
    public static func make(_ name: String, launch: ServerLaunch) throws(HarnessError) -> any Nemesis {
        switch name {
        case "partition": return PartitionNemesis()
        case "kill": return KillNemesis()
        case "crash": return try CrashNemesis(launch: launch)
        case "pause": return PauseNemesis()
        case "clock": return try ClockNemesis(launch: launch)
        case "member": return MemberNemesis()
        default:
            throw HarnessError(.cannotRun, "unknown nemesis '\(name)'; choose from \(names.joined(separator: ", "))")
        }
    }
}

/// A random subset of `nodes` of the given size.
func pick(_ count: Int, of nodes: [ServerNode], random: inout SplitMix64) -> [ServerNode] {
    Array(nodes.shuffled(using: &random).prefix(count))
}

/// Names of nodes, `n1 n3`.
func names(_ nodes: [ServerNode]) -> String { nodes.map(\.name).joined(separator: " ") }
