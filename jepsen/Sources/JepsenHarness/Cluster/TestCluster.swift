// The cluster under test: its network, its nodes, and the questions a nemesis asks of it.
import Foundation
import KeelClient
import KeelProto

/// A cluster of real server processes on a ``TestNetwork``.
public final class TestCluster: Sendable {
    /// The members, in order.
    public let nodes: [ServerNode]
    /// The network they live on.
    public let network: TestNetwork
    /// `n1=http://10.47.0.11:2380,…`, as every member is told.
    public let initialCluster: String

    /// How often readiness is asked while waiting.
    static let readinessPollInterval: Duration = .milliseconds(250)

    /// Describes a cluster of `nodeCount` members with their folders under `directory`; nothing
    /// starts until ``start()``.
    public init(nodeCount: Int, directory: String, launch: ServerLaunch) {
        network = TestNetwork(nodeCount: nodeCount)
        nodes = (0..<nodeCount).map { ServerNode(index: $0, directory: directory + "/n\($0 + 1)", launch: launch) }
        initialCluster = nodes.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ",")
    }

    /// Builds the network and starts every member.
    public func start() throws(HarnessError) {
        try network.create()
        for node in nodes {
            do {
                try FileManager.default.createDirectory(atPath: node.directory, withIntermediateDirectories: true)
            } catch {
                throw HarnessError(.setupFailed, "cannot create \(node.directory): \(error.localizedDescription)")
            }
            try node.start(initialCluster: initialCluster)
        }
    }

    /// Starts a member again on its data (after a kill). A member removed from the cluster is
    /// not: it would refuse to start; the `member` nemesis adds it back (``rejoin(_:)``).
    public func restart(_ node: ServerNode) throws(HarnessError) {
        guard !node.isRemoved else { return }
        try node.start(initialCluster: initialCluster)
    }

    /// Starts a member that was removed and added back, as a new member on empty data.
    public func rejoin(_ node: ServerNode) throws(HarnessError) {
        try node.rejoin(initialCluster: initialCluster)
    }

    /// Stops every member and removes the network. Runs however the test ended.
    public func tearDown() {
        for node in nodes { node.stop() }
        TestNetwork.removeAll()
    }

    /// The endpoint of a member, for clients in the root namespace.
    public func endpoint(_ node: ServerNode) -> Endpoint { Endpoint(host: node.address, port: ServerNode.clientPort) }

    /// Asks one member for its status, within `timeout`; nil if it does not answer.
    public func status(of node: ServerNode, timeout: Duration = .seconds(1)) async -> Etcdserverpb_StatusResponse? {
        let configuration = KeelClientConfiguration(
            endpoints: [endpoint(node)], dialTimeout: timeout, commandTimeout: timeout)
        return try? await KeelClient.withClient(configuration) { client in
            try await client.status(at: endpoint(node))
        }
    }

    /// The member that most of the answering members name as leader, if any.
    public func leader() async -> ServerNode? {
        var votes: [UInt64: Int] = [:]
        var memberIDs: [UInt64: ServerNode] = [:]
        await withTaskGroup(of: (ServerNode, Etcdserverpb_StatusResponse?).self) { group in
            for node in nodes where node.pid != nil && !node.isPaused {
                group.addTask { (node, await self.status(of: node)) }
            }
            for await (node, answer) in group {
                guard let answer else { continue }
                memberIDs[answer.header.memberID] = node
                if answer.leader != 0 { votes[answer.leader, default: 0] += 1 }
            }
        }
        guard let (leaderID, _) = votes.max(by: { $0.value < $1.value }) else { return nil }
        return memberIDs[leaderID]
    }

    /// Waits until every member answers and all of them name the same leader, or `timeout` passes.
    /// Returns the members that still do not answer (empty when ready).
    public func waitUntilReady(timeout: Duration) async throws -> [ServerNode] {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var silent = nodes
        while true {
            try Task.checkCancellation()
            var leaders: Set<UInt64> = []
            silent = []
            for node in nodes {
                if let answer = await status(of: node), answer.leader != 0 {
                    leaders.insert(answer.leader)
                } else {
                    silent.append(node)
                }
            }
            if silent.isEmpty && leaders.count == 1 { return [] }
            if ContinuousClock.now >= deadline { return silent.isEmpty ? nodes : silent }
            try await Task.sleep(for: Self.readinessPollInterval)
        }
    }
}
