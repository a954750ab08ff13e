import Foundation
import XCTest

/// Real kvd processes with TLS on every URL, started with etcd's flags (`--cert-file`,
/// `--client-cert-auth`, `--peer-*`, `https` URLs) and certificates that openssl makes for each
/// test: the cluster forms over TLS peers and serves etcdctl 3.4 and kvctl with certificates, and
/// a client or a member whose certificate comes from another CA is refused.
final class TLSClusterProcessTests: ClusterTestCase {
    /// How long replication to every member may take.
    static let replicationTimeLimitSeconds = 15.0
    /// How long the members may take to log a refused peer handshake (the stranger redials with
    /// backoff, the first attempt within a second of starting).
    static let refusalLogTimeLimitSeconds = 15.0

    /// A three-member cluster with TLS everywhere; `prepare` may change the harness before start.
    private func startTLSCluster(
        waitAmong: [String]? = nil, prepare: (ClusterHarness, TestCertificates) -> Void = { _, _ in }
    ) throws -> (ClusterHarness, TestCertificates, ClusterLeader) {
        let cluster = try ClusterHarness(nodesCount: 3, binaries: try ClusterBinaries.locate(), testName: name)
        harness = cluster
        let certificates = try TestCertificates.make(in: cluster.directory)
        cluster.tls = certificates
        prepare(cluster, certificates)
        try cluster.startAll()
        let among = waitAmong.map { names in names.map(cluster.node) }
        let leader = try cluster.waitForLeader(among: among, timeLimitSeconds: Self.electionTimeLimitSeconds)
        return (cluster, certificates, leader)
    }

    /// Runs a program with exactly these arguments (no harness TLS flags), bounded in time.
    private func run(_ program: URL, _ arguments: [String], in cluster: ClusterHarness) throws -> ClusterCommandResult {
        try ClusterCommand.run(
            program, arguments, environment: ["ETCDCTL_API": "3"], timeLimitSeconds: ClusterHarness.commandTimeLimitSeconds,
            scratch: cluster.directory)
    }

    /// Polls `condition` until it holds or `seconds` pass.
    private func eventually(within seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(ClusterHarness.pollIntervalMicroseconds * 4)
        }
        return try condition()
    }

    private func log(_ node: ClusterNode) -> String {
        (try? String(contentsOf: node.logURL, encoding: .utf8)) ?? ""
    }

    func testTLSClusterElectsAndServesEtcdctlAndKvctlWithCertificates() throws {
        let (cluster, certificates, leader) = try startTLSCluster()
        XCTAssertTrue(log(leader.node).contains("(tls)"), "the peer listener says it is TLS:\n\(cluster.logTail(leader.node))")

        let put = try cluster.etcdctl(["put", "greeting", "hello"])
        XCTAssertTrue(put.succeeded, put.transcript)
        XCTAssertEqual(put.stdout, "OK\n")
        let kvctlPut = try cluster.ctl(["put", "colour", "blue"])
        XCTAssertTrue(kvctlPut.succeeded, kvctlPut.transcript)
        let kvctlGet = try cluster.ctl(["get", "greeting"])
        XCTAssertEqual(kvctlGet.stdout, "greeting\nhello\n", kvctlGet.transcript)
        let etcdctlGet = try cluster.etcdctl(["get", "colour"])
        XCTAssertEqual(etcdctlGet.stdout, "colour\nblue\n", etcdctlGet.transcript)

        // https:// endpoints as etcdctl users write them, too.
        let https = try run(
            cluster.binaries.ctl,
            ["get", "colour", "--endpoints=https://\(cluster.nodes[0].clientAddress)"] + cluster.clientTLSArguments, in: cluster)
        XCTAssertEqual(https.stdout, "colour\nblue\n", https.transcript)

        // Without --cacert the system's roots cannot vouch for the test CA: only skipping the check passes.
        let unverified = ["get", "colour", "--endpoints=https://\(cluster.nodes[0].clientAddress)",
                          "--cert=\(certificates.client.certificate)", "--key=\(certificates.client.key)"]
        let systemRoots = try run(cluster.binaries.ctl, unverified + ["--dial-timeout=2s", "--command-timeout=3s"], in: cluster)
        XCTAssertFalse(systemRoots.succeeded, systemRoots.transcript)
        let skipped = try run(cluster.binaries.ctl, unverified + ["--insecure-skip-tls-verify"], in: cluster)
        XCTAssertEqual(skipped.stdout, "colour\nblue\n", skipped.transcript)

        // Every member has both writes: replication crossed the TLS peer connections.
        for node in cluster.nodes {
            let replicated = try eventually(within: Self.replicationTimeLimitSeconds) {
                try cluster.etcdctl(["get", "greeting", "--consistency=s"], on: [node]).stdout == "greeting\nhello\n"
            }
            XCTAssertTrue(replicated, "\(node.name) never served the write\n\(cluster.logTail(node))")
        }

        // /health on the client URL, over TLS with ALPN http/1.1 and the client certificate.
        let openssl = try ClusterBinaries.findOnPath("openssl", hint: "install openssl")
        let health = try ClusterCommand.run(
            openssl,
            [
                "s_client", "-quiet", "-ign_eof", "-connect", cluster.nodes[1].clientAddress, "-alpn", "http/1.1",
                "-CAfile", certificates.caFile, "-cert", certificates.client.certificate, "-key", certificates.client.key,
                "-verify_return_error",
            ],
            stdin: Data("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8),
            timeLimitSeconds: ClusterHarness.commandTimeLimitSeconds, scratch: cluster.directory)
        XCTAssertTrue(health.stdout.contains("HTTP/1.1 200"), health.transcript)
        XCTAssertTrue(health.stdout.contains("{\"health\":\"true\"}"), health.transcript)
    }

    func testClientsWithAStrangersCertificateOrNoneAreRefusedWithAClearError() throws {
        let (cluster, certificates, _) = try startTLSCluster()
        let endpoint = "--endpoints=\(cluster.nodes[0].clientAddress)"
        let stranger = [
            "--cacert=\(certificates.caFile)", "--cert=\(certificates.strangerClient.certificate)",
            "--key=\(certificates.strangerClient.key)",
        ]
        let timeouts = ["--dial-timeout=2s", "--command-timeout=4s"]

        let etcdctl = try run(cluster.binaries.etcdctl, [endpoint] + stranger + timeouts + ["put", "stolen", "x"], in: cluster)
        XCTAssertFalse(etcdctl.succeeded, "etcdctl with a stranger's certificate wrote: \(etcdctl.transcript)")

        let kvctl = try run(cluster.binaries.ctl, ["put", "stolen", "x", endpoint] + stranger + timeouts, in: cluster)
        XCTAssertFalse(kvctl.succeeded, kvctl.transcript)
        XCTAssertTrue(kvctl.stderr.contains("TLS: the server refused the handshake"), kvctl.transcript)
        XCTAssertTrue(kvctl.stderr.contains("certificate"), kvctl.transcript)

        let anonymous = try run(
            cluster.binaries.ctl, ["put", "stolen", "x", endpoint, "--cacert=\(certificates.caFile)"] + timeouts, in: cluster)
        XCTAssertFalse(anonymous.succeeded, anonymous.transcript)
        XCTAssertTrue(anonymous.stderr.contains("TLS: the server refused the handshake"), anonymous.transcript)

        // The other way round: our certificate, but the server's is checked against the stranger CA.
        let wrongCA = try run(
            cluster.binaries.ctl,
            ["get", "stolen", endpoint, "--cacert=\(certificates.strangerCAFile)", "--cert=\(certificates.client.certificate)",
             "--key=\(certificates.client.key)"] + timeouts, in: cluster)
        XCTAssertFalse(wrongCA.succeeded, wrongCA.transcript)
        XCTAssertTrue(wrongCA.stderr.contains("the server's certificate failed verification"), wrongCA.transcript)

        // Plaintext to a TLS port: the server hangs up; kvctl says what that probably means.
        let plaintext = try run(
            cluster.binaries.ctl, ["get", "stolen", "--endpoints=http://\(cluster.nodes[0].clientAddress)"] + timeouts, in: cluster)
        XCTAssertFalse(plaintext.succeeded, plaintext.transcript)
        XCTAssertTrue(plaintext.stderr.contains("if the server uses TLS, give https:// or --cacert"), plaintext.transcript)

        let get = try cluster.etcdctl(["get", "stolen"])
        XCTAssertTrue(get.succeeded, get.transcript)
        XCTAssertEqual(get.stdout, "", "no refused client wrote anything")
    }

    func testMemberWithAStrangersPeerCertificateNeverReceivesData() throws {
        let (cluster, _, leader) = try startTLSCluster(waitAmong: ["node1", "node2"]) { cluster, certificates in
            cluster.peerCertificateOverrides["node3"] = certificates.strangerPeer
        }
        XCTAssertNotEqual(leader.node.name, "node3")
        let put = try cluster.etcdctl(["put", "secret", "s3cret"], on: [cluster.node("node1")])
        XCTAssertTrue(put.succeeded, put.transcript)

        let members = [cluster.node("node1"), cluster.node("node2")]
        let refusedLogged = eventually(within: Self.refusalLogTimeLimitSeconds) {
            members.contains { log($0).contains("refused a peer connection: TLS handshake failed") }
        }
        XCTAssertTrue(refusedLogged, "no member logged the refused handshake\n\(cluster.logTails(members))")
        let stranger = cluster.node("node3")
        XCTAssertTrue(stranger.isRunning, cluster.logTail(stranger))
        XCTAssertTrue(
            log(stranger).contains("TLS handshake with the peer failed"), "the stranger says why\n\(cluster.logTail(stranger))")

        // node1 and node2 hold the write; node3, asked for its own data, has none.
        for node in members {
            let get = try cluster.etcdctl(["get", "secret", "--consistency=s"], on: [node])
            XCTAssertEqual(get.stdout, "secret\ns3cret\n", get.transcript)
        }
        let strangerGet = try cluster.etcdctl(["get", "secret", "--consistency=s", "--command-timeout=2s"], on: [stranger])
        XCTAssertFalse(strangerGet.stdout.contains("s3cret"), "the stranger received the data: \(strangerGet.transcript)")
    }
}
