// `member`: membership changes through etcd's Cluster API, the way an operator replaces a member.
import Foundation
import KeelClient
import Synchronization

/// Removes one member (the leader or a random one) through `MemberRemove`; the heal adds it back
/// through `MemberAdd` as a new member at the same peer URL and starts it on an empty data
/// directory with `--initial-cluster-state existing`, so it catches up from the others. One member
/// is out at a time: the rest keep a quorum of what remains.
public final class MemberNemesis: Nemesis {
    /// `member`.
    public let name = "member"
    /// Names of the members removed and not yet added back.
    private let removed = Mutex<[String]>([])

    /// How long one membership call may take.
    static let callTimeout: Duration = .seconds(5)
    /// How long a removed member gets to stop by itself before it is killed.
    static let exitWait: Duration = .seconds(10)

    /// A member nemesis.
    public init() {}

    /// Removes a member, unless one is out already.
    public func inject(into cluster: TestCluster, random: inout SplitMix64) async throws -> String {
        if let out = removed.withLock({ $0.first }) { return "\(out) is still out of the cluster; nothing removed" }
        let candidates = cluster.nodes.filter { $0.pid != nil && !$0.isPaused && !$0.isRemoved }
        guard candidates.count >= 2 else { return "too few members running to remove one" }
        var target = pick(1, of: candidates, random: &random)[0]
        var how = "one"
        if Int.random(in: 0..<3, using: &random) == 0, let leader = await cluster.leader(), candidates.contains(where: { $0 === leader }) {
            (target, how) = (leader, "the leader")
        }
        let others = cluster.nodes.filter { $0 !== target && !$0.isRemoved }
        let members: [(id: UInt64, peerURLs: [String])]
        do {
            members = try await Self.call(cluster, others) { client in
                try await client.memberList().members.map { ($0.id, $0.peerUrls) }
            }
        } catch {
            return "could not list the members to remove \(target.name): \(error)"
        }
        guard let member = members.first(where: { $0.peerURLs.contains(target.peerURL) }) else {
            return "\(target.name) is not in the member list"
        }
        // Marked first: once the change applies, the member stops by itself, maybe before the answer.
        target.markRemoved()
        var outcome = "removed \(how): \(target.name) (member \(String(member.id, radix: 16)))"
        do {
            _ = try await Self.call(cluster, others) { client in try await client.memberRemove(id: member.id) }
        } catch {
            // The outcome may be unknown (a timeout): the list says whether it applied.
            let still = (try? await Self.call(cluster, others) { client in
                try await client.memberList().members.contains { $0.id == member.id }
            }) ?? true
            guard !still else {
                target.clearRemoved()
                return "removing \(target.name) failed: \(error)"
            }
            outcome += " (the call failed, \(error), but the change applied)"
        }
        removed.withLock { $0.append(target.name) }
        let leaving = target
        await Blocking.run {
            let giveUp = ContinuousClock.now.advanced(by: Self.exitWait)
            while leaving.isRunning(), ContinuousClock.now < giveUp { usleep(100_000) }
            if leaving.isRunning() { leaving.kill() }
        }
        return outcome
    }

    /// Adds every removed member back and starts it on empty data.
    public func heal(_ cluster: TestCluster) async throws -> String {
        let out = removed.withLock { $0 }
        guard !out.isEmpty else { return "every member in" }
        var said: [String] = []
        for name in out {
            guard let node = cluster.nodes.first(where: { $0.name == name }) else { continue }
            let others = cluster.nodes.filter { !$0.isRemoved }
            do {
                let added = try await Self.call(cluster, others) { client in try await client.memberAdd(peerURLs: [node.peerURL]) }
                try await Blocking.run { try cluster.rejoin(node) }
                removed.withLock { $0.removeAll { $0 == name } }
                said.append("added \(name) back as member \(String(added.member.id, radix: 16))")
            } catch {
                said.append("could not add \(name) back yet: \(error)")
            }
        }
        return said.joined(separator: "; ")
    }

    /// Runs `body` with a client of `nodes`, bounded by ``callTimeout``.
    static func call<T: Sendable>(
        _ cluster: TestCluster, _ nodes: [ServerNode], _ body: @escaping @Sendable (KeelClient) async throws -> T
    ) async throws -> T {
        let configuration = KeelClientConfiguration(
            endpoints: nodes.map(cluster.endpoint), dialTimeout: .seconds(1), commandTimeout: callTimeout)
        return try await KeelClient.withClient(configuration) { client in try await body(client) }
    }
}
