import KeelNode
import KeelServer
import Raft
import XCTest

/// ServerConfig as the node's configuration: ids every member agrees on, timers in ticks.
final class NodeConfigMappingTests: XCTestCase {
    private let cluster = "a=http://127.0.0.1:2380,b=http://127.0.0.1:12380,c=http://127.0.0.1:22380"

    private func config(name: String, peer: Int, extra: [ConfigSetting: String] = [:]) throws -> ServerConfig {
        var flags: [ConfigSetting: String] = [
            .name: name, .initialCluster: cluster, .listenPeerURLs: "http://127.0.0.1:\(peer)",
            .listenClientURLs: "http://127.0.0.1:\(peer - 1)", .listenMetricsURLs: "",
        ]
        flags.merge(extra) { $1 }
        return try ServerConfig.resolve(ConfigValues(flags: flags))
    }

    func testEveryMemberComputesTheSameIdsAndItsOwnSelf() throws {
        let members = try [config(name: "a", peer: 2380), config(name: "b", peer: 12380), config(name: "c", peer: 22380)].map(\.nodeConfig)
        XCTAssertEqual(Set(members.map(\.clusterID)).count, 1, "one cluster id")
        XCTAssertEqual(Set(members.map(\.selfID)).count, 3, "three member ids")
        XCTAssertEqual(members[0].members.map(\.id), members[1].members.map(\.id))
        XCTAssertEqual(members[1].selfID, MemberIdentity.memberID(peerURLs: ["http://127.0.0.1:12380"], clusterToken: "etcd-cluster"))
        XCTAssertEqual(members[0].clusterID, MemberIdentity.clusterID(memberIDs: members[0].members.map(\.id), clusterToken: "etcd-cluster"))
        XCTAssertEqual(members[2].members.map(\.name), ["a", "b", "c"])
        XCTAssertEqual(members[2].members[2].clientURLs, ["http://127.0.0.1:22379"], "own client URLs are known")
        XCTAssertEqual(members[2].members[0].clientURLs, [], "peers' are learned when they connect")
    }

    func testTokenChangesEveryId() throws {
        let plain = try config(name: "a", peer: 2380).nodeConfig
        let other = try config(name: "a", peer: 2380, extra: [.initialClusterToken: "other"]).nodeConfig
        XCTAssertNotEqual(plain.selfID, other.selfID)
        XCTAssertNotEqual(plain.clusterID, other.clusterID)
    }

    func testTimersLimitsAndState() throws {
        let node = try config(
            name: "b", peer: 12380,
            extra: [.heartbeatInterval: "50", .electionTimeout: "600", .snapshotCount: "500", .maxRequestBytes: "4096", .initialClusterState: "existing",
                    .leaseCheckpointInterval: "1500"]
        ).nodeConfig
        XCTAssertEqual(node.tickInterval, .milliseconds(50))
        XCTAssertEqual(node.electionTimeoutTicks, 12)
        XCTAssertEqual(node.snapshotEntries, 500)
        XCTAssertEqual(node.maxRequestBytes, 4096)
        XCTAssertEqual(node.leaseCheckpointInterval, .milliseconds(1500))
        XCTAssertFalse(node.isNewCluster)
        XCTAssertEqual(node.name, "b")
        XCTAssertEqual(node.dataDirectory, "b.kvd")
        XCTAssertEqual(node.clientURLs, ["http://127.0.0.1:12379"])
        XCTAssertTrue(try config(name: "b", peer: 12380).nodeConfig.isNewCluster)
    }
}
