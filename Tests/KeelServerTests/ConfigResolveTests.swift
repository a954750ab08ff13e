import KeelNode
import KeelServer
import Logging
import XCTest

/// The configuration kvd builds from flags: etcd's defaults, and one clear error per bad value.
final class ConfigResolveTests: XCTestCase {
    private func resolve(_ flags: [ConfigSetting: String]) throws -> ServerConfig {
        try ServerConfig.resolve(ConfigValues(flags: flags))
    }

    private func assertRefused(_ flags: [ConfigSetting: String], mentions parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        do {
            let config = try resolve(flags)
            XCTFail("accepted \(flags) as \(config)", file: file, line: line)
        } catch let error as ConfigError {
            for part in parts {
                XCTAssertTrue(error.message.contains(part), "'\(error.message)' does not mention '\(part)'", file: file, line: line)
            }
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }

    func testNoFlagsGiveEtcdsOneNodeDefaults() throws {
        let config = try resolve([:])
        XCTAssertEqual(config.name, "default")
        XCTAssertEqual(config.dataDirectory, "default.kvd")
        XCTAssertEqual(config.listenClientURLs, [ServerURL(host: "127.0.0.1", port: 2379)])
        XCTAssertEqual(config.advertiseClientURLs, [ServerURL(host: "127.0.0.1", port: 2379)])
        XCTAssertEqual(config.listenPeerURL, ServerURL(host: "127.0.0.1", port: 2380))
        XCTAssertEqual(config.initialAdvertisePeerURLs, [ServerURL(host: "127.0.0.1", port: 2380)])
        XCTAssertEqual(config.initialCluster, [InitialMember(name: "default", peerURLs: [ServerURL(host: "127.0.0.1", port: 2380)])])
        XCTAssertEqual(config.initialClusterState, .new)
        XCTAssertEqual(config.initialClusterToken, "etcd-cluster")
        XCTAssertEqual(config.heartbeatIntervalMilliseconds, 100)
        XCTAssertEqual(config.electionTimeoutMilliseconds, 1_000)
        XCTAssertEqual(config.maxRequestBytes, 1_572_864)
        XCTAssertEqual(config.listenMetricsURLs, [], "as in etcd, /metrics is on the client URLs unless a metrics URL is given")
        XCTAssertEqual(config.logLevel, .info)
    }

    func testNameAloneNamesTheDataDirectoryAndTheOneMemberCluster() throws {
        let config = try resolve([.name: "infra1"])
        XCTAssertEqual(config.dataDirectory, "infra1.kvd")
        XCTAssertEqual(config.initialCluster.map(\.name), ["infra1"])
    }

    func testThreeMemberClusterIsParsedInOrder() throws {
        let config = try resolve([
            .name: "b", .listenPeerURLs: "http://127.0.0.1:12380", .initialAdvertisePeerURLs: "http://127.0.0.1:12380",
            .initialCluster: "a=http://127.0.0.1:2380, b=http://127.0.0.1:12380,c=http://127.0.0.1:22380",
            .initialClusterState: "existing", .initialClusterToken: "tok", .heartbeatInterval: "50", .electionTimeout: "500",
            .snapshotCount: "100", .maxRequestBytes: "1024", .listenMetricsURLs: "", .logLevel: "warn",
            .leaseCheckpointInterval: "750", .readMode: "lease", .leaseReadClockDrift: "120",
        ])
        XCTAssertEqual(config.initialCluster.map(\.name), ["a", "b", "c"])
        XCTAssertEqual(config.initialCluster[2].peerURLs, [ServerURL(host: "127.0.0.1", port: 22380)])
        XCTAssertEqual(config.initialClusterState, .existing)
        XCTAssertEqual(config.initialClusterToken, "tok")
        XCTAssertEqual(config.heartbeatIntervalMilliseconds, 50)
        XCTAssertEqual(config.electionTimeoutMilliseconds, 500)
        XCTAssertEqual(config.snapshotCount, 100)
        XCTAssertEqual(config.maxRequestBytes, 1024)
        XCTAssertEqual(config.listenMetricsURLs, [])
        XCTAssertEqual(config.logLevel, .warning)
        XCTAssertEqual(config.leaseCheckpointIntervalMilliseconds, 750)
        XCTAssertEqual(config.readMode, .lease)
        XCTAssertEqual(config.leaseReadClockDriftMilliseconds, 120)
        XCTAssertEqual(config.nodeConfig.leaseClockDriftBoundTicks, 3, "120 ms of drift rounds up to 3 heartbeats of 50 ms")
    }

    func testTheDriftBoundDoesNotRefuseAShortElectionTimeoutUnderReadIndex() throws {
        // 200 ms of default drift is the whole 200 ms election timeout; only lease reads need a lease.
        let config = try resolve([.heartbeatInterval: "20", .electionTimeout: "200"])
        XCTAssertEqual(config.readMode, .readIndex)
        let node = config.nodeConfig
        XCTAssertEqual(node.leaseClockDriftBoundTicks, 0)
        XCTAssertLessThan(node.leaseClockDriftBoundTicks + 1, node.electionTimeoutTicks, "KeelNode refuses a config without a lease")
    }

    func testListenURLsAreAdvertisedWhenNotGiven() throws {
        let config = try resolve([.listenClientURLs: "http://127.0.0.1:32379", .listenPeerURLs: "http://127.0.0.1:32380"])
        XCTAssertEqual(config.advertiseClientURLs, [ServerURL(host: "127.0.0.1", port: 32379)])
        XCTAssertEqual(config.initialAdvertisePeerURLs, [ServerURL(host: "127.0.0.1", port: 32380)])
        XCTAssertEqual(config.initialCluster[0].peerURLs, [ServerURL(host: "127.0.0.1", port: 32380)])
    }

    func testWildcardListenerNeedsAnAdvertisedURL() {
        assertRefused([.listenClientURLs: "http://0.0.0.0:2379"], mentions: ["--advertise-client-urls is required", "--listen-client-urls", "0.0.0.0"])
        assertRefused([.advertiseClientURLs: "http://0.0.0.0:2379"], mentions: ["--advertise-client-urls", "wildcard"])
    }

    func testBadURLsNameTheFlag() {
        assertRefused([.listenClientURLs: "127.0.0.1:2379"], mentions: ["--listen-client-urls", "not a URL"])
        assertRefused([.listenClientURLs: "ftp://127.0.0.1:2379"], mentions: ["--listen-client-urls", "scheme 'ftp'", "http or https"])
        assertRefused([.listenMetricsURLs: "https://127.0.0.1:2381"], mentions: ["--listen-metrics-urls", "only http"])
        assertRefused([.listenClientURLs: "http://127.0.0.1"], mentions: ["--listen-client-urls", "no port"])
        assertRefused([.listenClientURLs: "http://127.0.0.1:99999"], mentions: ["--listen-client-urls", "99999"])
        assertRefused([.listenClientURLs: "http://127.0.0.1:2379/v3"], mentions: ["--listen-client-urls", "without path"])
        assertRefused([.listenMetricsURLs: "http://:2381"], mentions: ["--listen-metrics-urls", "no host"])
        assertRefused([.listenPeerURLs: "http://127.0.0.1:1,http://127.0.0.1:2"], mentions: ["--listen-peer-urls", "exactly one"])
    }

    func testNameMustBeInTheInitialCluster() {
        assertRefused(
            [.name: "d", .initialCluster: "a=http://127.0.0.1:2380,b=http://127.0.0.1:12380"],
            mentions: ["--name 'd' is not a member of --initial-cluster", "a, b"]
        )
    }

    func testAdvertisedPeerURLMustMatchTheClusterEntry() {
        assertRefused(
            [.name: "a", .initialCluster: "a=http://127.0.0.1:12380"],
            mentions: ["--initial-advertise-peer-urls (http://127.0.0.1:2380)", "does not match the --initial-cluster entry for 'a' (http://127.0.0.1:12380)"]
        )
    }

    func testDuplicateNamesAndURLsInTheClusterAreRefused() {
        assertRefused(
            [.initialCluster: "default=http://127.0.0.1:2380,default=http://127.0.0.1:3380"],
            mentions: ["--initial-cluster", "'default' appears more than once"]
        )
        assertRefused(
            [.initialCluster: "default=http://127.0.0.1:2380,b=http://127.0.0.1:2380"],
            mentions: ["--initial-cluster", "http://127.0.0.1:2380 is given for both 'default' and 'b'"]
        )
        assertRefused([.initialCluster: "http://127.0.0.1:2380"], mentions: ["--initial-cluster", "not name=url"])
        assertRefused([.initialCluster: ","], mentions: ["--initial-cluster", "no members"])
    }

    func testBadNumbersNameTheFlag() {
        assertRefused([.heartbeatInterval: "fast"], mentions: ["--heartbeat-interval", "'fast' is not a whole number"])
        assertRefused([.heartbeatInterval: "0"], mentions: ["--heartbeat-interval", "outside"])
        assertRefused([.snapshotCount: "-1"], mentions: ["--snapshot-count", "outside"])
        assertRefused([.maxRequestBytes: "1e6"], mentions: ["--max-request-bytes", "not a whole number"])
        assertRefused([.electionTimeout: "60000", .heartbeatInterval: "100"], mentions: ["--election-timeout", "outside"])
    }

    func testElectionTimeoutMustBeFiveHeartbeats() throws {
        assertRefused(
            [.heartbeatInterval: "100", .electionTimeout: "499"],
            mentions: ["--election-timeout (499 ms) must be at least 5 times --heartbeat-interval (100 ms)"]
        )
        XCTAssertEqual(try resolve([.heartbeatInterval: "100", .electionTimeout: "500"]).electionTimeoutMilliseconds, 500)
    }

    func testOtherBadValues() {
        assertRefused([.initialClusterState: "old"], mentions: ["--initial-cluster-state", "'old' is neither 'new' nor 'existing'"])
        assertRefused([.logLevel: "loud"], mentions: ["--log-level", "'loud'"])
        assertRefused([.leaseCheckpointInterval: "10"], mentions: ["--lease-checkpoint-interval"])
        assertRefused([.readMode: "sometimes"], mentions: ["--read-mode", "'sometimes'", "readindex, lease"])
        assertRefused([.readMode: "lease", .leaseReadClockDrift: "900"], mentions: ["--lease-read-clock-drift", "no leader lease"])
        assertRefused([.name: ""], mentions: ["--name", "must not be empty"])
        assertRefused([.name: "a=b"], mentions: ["--name", "must not contain"])
        assertRefused([.dataDir: " "], mentions: ["--data-dir", "must not be empty"])
        assertRefused([.initialClusterToken: ""], mentions: ["--initial-cluster-token", "must not be empty"])
    }

    func testTwoListenersOnOneAddressAreRefused() {
        assertRefused(
            [.listenMetricsURLs: "http://127.0.0.1:2379"],
            mentions: ["--listen-metrics-urls", "http://127.0.0.1:2379 is also in --listen-client-urls"]
        )
    }

    func testIPv6URLsParse() throws {
        XCTAssertEqual(try ServerURL.parse("http://[::1]:2379", what: "x"), ServerURL(host: "::1", port: 2379))
        XCTAssertEqual(ServerURL(host: "::1", port: 2379).description, "http://[::1]:2379")
        XCTAssertEqual(try ServerURL.parse(" http://localhost:2379/ ", what: "x"), ServerURL(host: "localhost", port: 2379))
    }
}

/// etcd's storage and compaction flags.
final class MaintenanceConfigTests: XCTestCase {
    private func node(_ flags: [ConfigSetting: String]) throws -> NodeConfig {
        try ServerConfig.resolve(ConfigValues(flags: flags)).nodeConfig
    }

    func testQuotaIsEtcdsTwoGibibytesByDefaultAndNegativeTurnsItOff() throws {
        XCTAssertEqual(try node([:]).quotaBytes, 2 << 30)
        XCTAssertEqual(try node([.quotaBackendBytes: "0"]).quotaBytes, 2 << 30)
        XCTAssertEqual(try node([.quotaBackendBytes: "1000000"]).quotaBytes, 1_000_000)
        XCTAssertEqual(try node([.quotaBackendBytes: "-1"]).quotaBytes, 0)
    }

    func testAutoCompactionReadsRetentionAsEtcdDoes() throws {
        XCTAssertNil(try node([:]).autoCompaction)
        XCTAssertNil(try node([.autoCompactionRetention: "0"]).autoCompaction)
        XCTAssertEqual(try node([.autoCompactionRetention: "1"]).autoCompaction, .periodic(retention: .seconds(3600)))
        XCTAssertEqual(try node([.autoCompactionRetention: "30m"]).autoCompaction, .periodic(retention: .seconds(1800)))
        XCTAssertEqual(try node([.autoCompactionRetention: "1h30m"]).autoCompaction, .periodic(retention: .seconds(5400)))
        XCTAssertEqual(
            try node([.autoCompactionMode: "revision", .autoCompactionRetention: "1000"]).autoCompaction, .revisions(retention: 1000))
        XCTAssertThrowsError(try node([.autoCompactionMode: "revision", .autoCompactionRetention: "1h"]))
        XCTAssertThrowsError(try node([.autoCompactionMode: "hourly", .autoCompactionRetention: "1"]))
        XCTAssertThrowsError(try node([.autoCompactionRetention: "soon"]))
    }
}
