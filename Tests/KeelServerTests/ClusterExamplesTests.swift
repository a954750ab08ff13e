import Foundation
import KeelServer
import XCTest

/// cluster/examples/keel-{1,2,3}.yaml are configurations kvd accepts, and together they describe one
/// cluster: the same members, token and state, each host advertising the addresses the others dial.
final class ClusterExamplesTests: XCTestCase {
    static let examples = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("cluster/examples")
    static let hostsCount = 3

    private func load(_ host: Int) throws -> ServerConfig {
        let path = Self.examples.appendingPathComponent("keel-\(host).yaml").path
        return try ServerConfig.resolve(try ConfigFile.load(path: path))
    }

    func testEachHostsFileIsAValidKvdConfiguration() throws {
        for host in 1...Self.hostsCount {
            let config = try load(host)
            XCTAssertEqual(config.name, "keel-\(host)")
            XCTAssertEqual(config.initialClusterState, .new)
            XCTAssertFalse(config.listenMetricsURLs.isEmpty, "keel-\(host) serves no /metrics")
        }
    }

    func testTheThreeFilesDescribeOneClusterOfThreeHosts() throws {
        let configs = try (1...Self.hostsCount).map(load)
        let first = configs[0]
        XCTAssertEqual(first.initialCluster.map(\.name), (1...Self.hostsCount).map { "keel-\($0)" })
        for config in configs {
            XCTAssertEqual(config.initialCluster, first.initialCluster, "\(config.name): another member list")
            XCTAssertEqual(config.initialClusterToken, first.initialClusterToken, "\(config.name): another token")
            let entry = try XCTUnwrap(config.initialCluster.first { $0.name == config.name })
            XCTAssertEqual(entry.peerURLs, config.initialAdvertisePeerURLs)
            XCTAssertEqual(config.listenPeerURL, config.initialAdvertisePeerURLs.first)
            // Each host advertises its own address: a client sent to keel-2 reaches keel-2.
            XCTAssertEqual(config.advertiseClientURLs.map(\.host), [config.listenPeerURL.host])
            XCTAssertTrue(config.listenClientURLs.contains(config.advertiseClientURLs[0]))
        }
        XCTAssertEqual(Set(configs.map(\.listenPeerURL.host)).count, Self.hostsCount, "two hosts share an address")
        XCTAssertEqual(Set(configs.map(\.dataDirectory)).count, Self.hostsCount)
    }
}
