import Foundation
import KeelNode
import KeelStorage
import KeelTransport
import Logging
import Raft
import XCTest

/// N in-process nodes over an ``InMemoryHub``, each with real RocksDB in a temporary directory.
final class TestCluster {
    /// Every wait in the tests gives up after this.
    static let waitMax: Duration = .seconds(20)

    let hub = InMemoryHub()
    let root: String
    let members: [MemberInfo]
    let clusterID: UInt64
    var nodes: [NodeID: KeelNode] = [:]
    var configure: (inout NodeConfig) -> Void
    let clock = ContinuousClock()

    init(size: Int, token: String = "test-token", configure: @escaping (inout NodeConfig) -> Void = { _ in }) {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("keel-node-\(UUID().uuidString)").path
        members = (1...size).map { index in
            let urls = ["http://127.0.0.1:\(12_380 + index)"]
            return MemberInfo(
                id: MemberIdentity.memberID(peerURLs: urls, clusterToken: token), name: "node\(index)", peerURLs: urls)
        }
        clusterID = MemberIdentity.clusterID(memberIDs: members.map(\.id), clusterToken: token)
        self.configure = configure
    }

    var ids: [NodeID] { members.map(\.id) }

    func config(for id: NodeID) -> NodeConfig {
        let member = members.first { $0.id == id }!
        var config = NodeConfig(
            name: member.name, dataDirectory: root + "/" + member.name, members: members, selfID: id, clusterID: clusterID,
            clusterToken: "test-token", isNewCluster: true)
        config.tickInterval = .milliseconds(20)
        config.electionTimeoutTicks = 10
        config.requestTimeout = .seconds(5)
        config.clientURLs = ["http://127.0.0.1:\(22_379 + Int(id.rawValue % 1000))"]
        configure(&config)
        return config
    }

    /// Opens (or reopens) and starts one node.
    @discardableResult
    func start(_ id: NodeID) async throws -> KeelNode {
        let config = config(for: id)
        let node = try KeelNode(
            config: config, network: hub.endpoint(id, attributes: MemberAttributes(name: config.name, clientURLs: config.clientURLs)),
            logger: Logger(label: "test.\(config.name)"))
        await node.start()
        nodes[id] = node
        return node
    }

    func startAll() async throws {
        for id in ids { try await start(id) }
    }

    func stop(_ id: NodeID) async {
        hub.remove(id)
        await nodes.removeValue(forKey: id)?.stop()
    }

    func shutdown() async {
        for id in Array(nodes.keys) { await stop(id) }
        try? FileManager.default.removeItem(atPath: root)
    }

    func node(_ id: NodeID) -> KeelNode { nodes[id]! }

    var deadline: ContinuousClock.Instant { clock.now + .seconds(5) }

    /// Waits until every running node (or those in `among`) names the same running leader.
    func waitForLeader(among: [NodeID]? = nil, file: StaticString = #filePath, line: UInt = #line) async throws -> NodeID {
        let watched = among ?? Array(nodes.keys)
        let giveUp = clock.now + Self.waitMax
        while clock.now < giveUp {
            var leaders = Set<NodeID>()
            for id in watched { leaders.insert(await node(id).status().leader) }
            if leaders.count == 1, let leader = leaders.first, leader != .none, nodes[leader] != nil { return leader }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTFail("no agreed leader among \(watched) within \(Self.waitMax)", file: file, line: line)
        throw KeelError(.unavailable, "no leader")
    }

    /// Polls `condition` until it holds or the wait limit passes.
    func eventually(
        _ what: String, file: StaticString = #filePath, line: UInt = #line, _ condition: () async throws -> Bool
    ) async throws {
        let giveUp = clock.now + Self.waitMax
        while clock.now < giveUp {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTFail("\(what): not within \(Self.waitMax)", file: file, line: line)
    }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

extension KeelNode {
    /// Puts a string value with a 5 s deadline.
    @discardableResult
    func put(_ key: String, _ value: String) async throws -> PutResponse {
        try await put(PutRequest(key: bytes(key), value: bytes(value)), deadline: .now + .seconds(5)).0
    }

    /// The value of `key`, or nil.
    func get(_ key: String, serializable: Bool = false) async throws -> String? {
        try await range(RangeRequest(key: bytes(key)), serializable: serializable, deadline: .now + .seconds(5)).0.kvs.first.map { text($0.value) }
    }
}

/// Runs `body`, which must throw a ``KeelError`` with `code`; returns it.
@discardableResult
func expectKeelError<T>(
    _ code: KeelError.Code, file: StaticString = #filePath, line: UInt = #line, _ body: () async throws -> T
) async -> KeelError? {
    do {
        _ = try await body()
        XCTFail("expected \(code), got success", file: file, line: line)
    } catch let error as KeelError {
        XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
        return error
    } catch {
        XCTFail("expected KeelError \(code), got \(error)", file: file, line: line)
    }
    return nil
}

/// Runs `body` against a cluster of `size` nodes (started unless `start` is false) and always
/// stops every node and removes the data afterwards, also when `body` fails.
func withCluster(
    size: Int, start: Bool = true, configure: @escaping (inout NodeConfig) -> Void = { _ in }, _ body: (TestCluster) async throws -> Void
) async throws {
    let cluster = TestCluster(size: size, configure: configure)
    do {
        if start { try await cluster.startAll() }
        try await body(cluster)
    } catch {
        await cluster.shutdown()
        throw error
    }
    await cluster.shutdown()
}
