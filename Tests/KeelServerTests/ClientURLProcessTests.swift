import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import KeelProto
import XCTest

/// etcd's operator surface on the client URLs, with real processes: three members started on one
/// host with only etcd's cluster flags all run, and each answers `/health`, `/version` and
/// `/metrics` over HTTP/1 on the port where it serves gRPC, plus gRPC's health service.
/// `KEEL_E2E_BINARY=etcd` runs the same against etcd 3.4.
final class ClientURLProcessTests: ClusterTestCase {
    /// How long the peers' round-trip histogram may take to get its first sample.
    static let roundTripWaitSeconds = 10.0

    private func startWithEtcdFlagsOnly() throws -> (ClusterHarness, ClusterLeader) {
        let cluster = try ClusterHarness(nodesCount: 3, binaries: try ClusterBinaries.locate(), testName: name)
        cluster.separateMetricsListener = false
        harness = cluster
        try cluster.startAll()
        return (cluster, try cluster.waitForLeader(timeLimitSeconds: Self.electionTimeLimitSeconds))
    }

    func testThreeMembersWithEtcdFlagsOnlyServeHealthVersionAndMetricsOnTheirClientURLs() throws {
        let (cluster, _) = try startWithEtcdFlagsOnly()
        for node in cluster.nodes {
            XCTAssertTrue(node.isRunning, "\(node.name) exited\n\(cluster.logTail(node))")
            let put = try cluster.etcdctl(["put", "greeting-\(node.name)", "hello"], on: [node])
            XCTAssertTrue(put.succeeded, "gRPC on \(node.clientAddress): \(put.stderr)")

            let health = try LoopbackHTTP.get(port: node.clientPort, path: "/health")
            XCTAssertEqual(health.status, 200, node.name)
            XCTAssertEqual(health.body, #"{"health":"true"}"#, node.name)

            let version = try LoopbackHTTP.get(port: node.clientPort, path: "/version")
            XCTAssertEqual(version.status, 200, node.name)
            let fields = try JSONDecoder().decode([String: String].self, from: Data(version.body.utf8))
            XCTAssertEqual(Set(fields.keys), ["etcdserver", "etcdcluster"], version.body)
            XCTAssertTrue(fields["etcdserver"]?.hasPrefix("3.4.") ?? false, version.body)
            XCTAssertEqual(fields["etcdcluster"], "3.4.0", version.body)
            if !cluster.binaries.serverIsEtcd {
                XCTAssertEqual(fields["etcdserver"], "3.4.0-keel", "kvd names itself, not an etcd release")
            }

            let metrics = try LoopbackHTTP.get(port: node.clientPort, path: "/metrics")
            XCTAssertEqual(metrics.status, 200, node.name)
            let hasLeader = try PrometheusText(metrics.body).samples.first { $0.hasPrefix("etcd_server_has_leader ") }
            XCTAssertEqual(hasLeader.flatMap { Double($0.split(separator: " ")[1]) }, 1, "\(node.name): \(hasLeader ?? "none")")

            let missing = try LoopbackHTTP.get(port: node.clientPort, path: "/no-such-page")
            XCTAssertEqual(missing.status, 404, node.name)
        }
        // gRPC still works on the same ports after the HTTP/1 requests.
        let read = try cluster.etcdctl(["get", "greeting-node1", "--print-value-only"])
        XCTAssertEqual(read.stdout, "hello\n", read.stderr)
    }

    func testMetricsHaveEtcdsNamesTypesLabelsAndBuckets() throws {
        let (cluster, leader) = try startWithEtcdFlagsOnly()
        let put = try cluster.etcdctl(["put", "k", "v"], on: [leader.node])
        XCTAssertTrue(put.succeeded, put.stderr)
        let reference = try PrometheusText(EtcdMetricsFixture.text())
        var served = PrometheusText.empty
        // The peers' round-trip histogram gets its first sample from the transport's probes.
        let deadline = Date().addingTimeInterval(Self.roundTripWaitSeconds)
        repeat {
            served = try PrometheusText(LoopbackHTTP.get(port: leader.node.clientPort, path: "/metrics").body)
            if served.types["etcd_network_peer_round_trip_time_seconds"] != nil { break }
            usleep(200_000)
        } while Date() < deadline
        for name in EtcdMetricsFixture.requiredNames {
            XCTAssertEqual(served.types[name], reference.types[name], "type of \(name)")
            XCTAssertEqual(served.labelNames[name], reference.labelNames[name], "label names of \(name)")
            if reference.types[name] == "histogram" {
                XCTAssertEqual(served.buckets[name], reference.buckets[name], "buckets of \(name)")
            }
        }
        let handledPuts = served.samples.filter {
            $0.hasPrefix("grpc_server_handled_total{") && $0.contains(#"grpc_method="Put""#) && $0.contains(#"grpc_code="OK""#)
                && $0.contains(#"grpc_service="etcdserverpb.KV""#) && $0.contains(#"grpc_type="unary""#)
        }
        XCTAssertEqual(handledPuts.count, 1, "the put is counted as handled OK: \(handledPuts)")
        XCTAssertFalse(handledPuts.first?.hasSuffix(" 0") ?? true, "\(handledPuts)")
    }

    func testGRPCHealthServiceServesOnlyWhileALeaderIsKnown() async throws {
        let (cluster, leader) = try startWithEtcdFlagsOnly()
        let survivor = leader.node
        let status = try await Self.healthStatus(port: survivor.clientPort)
        XCTAssertEqual(status, .serving)

        for node in cluster.nodes where node !== survivor { cluster.stop(node, signal: SIGKILL) }
        if cluster.binaries.serverIsEtcd {
            // etcd 3.4 sets SERVING once at start and never changes it (3.5 follows the leader).
            return
        }
        // The lone member loses its leadership after an election timeout without a quorum.
        let deadline = Date().addingTimeInterval(Self.electionTimeLimitSeconds)
        var last = status
        while Date() < deadline {
            last = try await Self.healthStatus(port: survivor.clientPort)
            if last == .notServing { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        XCTAssertEqual(last, .notServing, cluster.logTail(survivor))
        let health = try LoopbackHTTP.get(port: survivor.clientPort, path: "/health")
        XCTAssertEqual(health.status, 503, health.body)
    }

    static func healthStatus(port: Int) async throws -> Grpc_Health_V1_HealthCheckResponse.ServingStatus {
        let transport = try HTTP2ClientTransport.Posix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
        return try await withGRPCClient(transport: transport) { client in
            let health = Grpc_Health_V1_Health.Client(wrapping: client)
            var options = CallOptions.defaults
            options.timeout = .seconds(5)
            return try await health.check(Grpc_Health_V1_HealthCheckRequest(), options: options).status
        }
    }
}
