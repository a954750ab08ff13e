import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import KeelNode
import KeelProto
import KeelServer
import Logging
import XCTest

/// A one-member server in this process, over real gRPC and HTTP on 127.0.0.1.
final class ServerInProcessTests: XCTestCase {
    /// Upper bound for the member to elect itself.
    static let leaderWaitSecondsMax = 15.0

    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvd-inprocess-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func makeConfig(peer: Int, extra: [ConfigSetting: String] = [:]) throws -> ServerConfig {
        let client = try LoopbackPorts.free()
        var flags: [ConfigSetting: String] = [
            .name: "solo", .dataDir: directory.appendingPathComponent("solo.kvd").path,
            .listenClientURLs: "http://127.0.0.1:\(client)", .listenPeerURLs: "http://127.0.0.1:\(peer)",
            .listenMetricsURLs: "http://127.0.0.1:0", .heartbeatInterval: "20", .electionTimeout: "200",
        ]
        flags.merge(extra) { $1 }
        return try ServerConfig.resolve(ConfigValues(flags: flags))
    }

    /// Runs `body` against a started server whose member is leader, then shuts it down and
    /// checks that `run()` returned.
    private func withServer(
        quorumLost: Bool = false, extra: [ConfigSetting: String] = [:], _ body: (KvdServer, BoundPorts, GRPCClient<HTTP2ClientTransport.Posix>) async throws -> Void
    ) async throws {
        let peer = try LoopbackPorts.free()
        // The second member never runs: the first can never win an election.
        let absent = try LoopbackPorts.free()
        var flags = extra
        if quorumLost {
            flags[.initialCluster] = "solo=http://127.0.0.1:\(peer),absent=http://127.0.0.1:\(absent)"
        }
        let config = try makeConfig(peer: peer, extra: flags)
        let logger = Logger(label: "test")
        let server = try KvdServer(config: config, network: KvdMain.makeTransport(config: config, logger: logger), logger: logger)
        let running = Task { try await server.run() }
        do {
            guard let ports = await server.boundPorts() else {
                _ = try await running.value
                return XCTFail("server stopped before binding")
            }
            let start = ContinuousClock.now
            while !quorumLost, await server.node.status().leader == .none {
                guard ContinuousClock.now - start < .seconds(Self.leaderWaitSecondsMax) else {
                    throw LoopbackHTTP.Failure(description: "no leader after \(Self.leaderWaitSecondsMax) s")
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            let transport = try HTTP2ClientTransport.Posix(target: .ipv4(address: "127.0.0.1", port: ports.client[0]), transportSecurity: .plaintext)
            try await withGRPCClient(transport: transport) { client in
                try await body(server, ports, client)
            }
        } catch {
            await server.shutdown()
            _ = try? await running.value
            throw error
        }
        await server.shutdown()
        try await running.value
    }

    func testKVStatusAndMembersOverGRPC() async throws {
        try await withServer { server, _, client in
            let kv = Etcdserverpb_KV.Client(wrapping: client)
            // etcd's numbering: a fresh store is at revision 1, its first write gets 2.
            let fresh = try await kv.range(.with { $0.key = Data("greeting".utf8) })
            XCTAssertEqual(fresh.header.revision, 1)
            let put = try await kv.put(.with { $0.key = Data("greeting".utf8); $0.value = Data("hello".utf8) })
            XCTAssertEqual(put.header.clusterID, server.node.clusterID)
            XCTAssertEqual(put.header.memberID, server.node.id.rawValue)
            XCTAssertEqual(put.header.revision, 2)
            XCTAssertGreaterThan(put.header.raftTerm, 0)

            let second = try await kv.put(.with { $0.key = Data("greeting".utf8); $0.value = Data("hi".utf8); $0.prevKv = true })
            XCTAssertEqual(second.prevKv.value, Data("hello".utf8))
            XCTAssertEqual(second.header.revision, put.header.revision + 1)

            let range = try await kv.range(.with { $0.key = Data("greeting".utf8) })
            XCTAssertEqual(range.kvs.map(\.value), [Data("hi".utf8)])
            XCTAssertEqual(range.kvs.first?.version, 2)
            XCTAssertEqual(range.count, 1)
            XCTAssertEqual(range.header.revision, second.header.revision)

            let txn = try await kv.txn(.with { txn in
                txn.compare = [.with { $0.key = Data("greeting".utf8); $0.target = .value; $0.targetUnion = .value(Data("hi".utf8)); $0.result = .equal }]
                txn.success = [.with { $0.request = .requestPut(.with { $0.key = Data("swapped".utf8); $0.value = Data("yes".utf8) }) }]
                txn.failure = [.with { $0.request = .requestRange(.with { $0.key = Data("greeting".utf8) }) }]
            })
            XCTAssertTrue(txn.succeeded)
            guard case .responsePut? = txn.responses.first?.response else { return XCTFail("expected a put response: \(txn)") }
            let swapped = try await kv.range(.with { $0.key = Data("swapped".utf8); $0.serializable = true })
            XCTAssertEqual(swapped.kvs.first?.value, Data("yes".utf8))

            let deleted = try await kv.deleteRange(.with { $0.key = Data("s".utf8); $0.rangeEnd = Data("t".utf8); $0.prevKv = true })
            XCTAssertEqual(deleted.deleted, 1)
            XCTAssertEqual(deleted.prevKvs.first?.key, Data("swapped".utf8))

            let status = try await Etcdserverpb_Maintenance.Client(wrapping: client).status(Etcdserverpb_StatusRequest())
            XCTAssertEqual(status.leader, server.node.id.rawValue)
            XCTAssertEqual(status.header.memberID, server.node.id.rawValue)
            XCTAssertGreaterThanOrEqual(status.raftIndex, status.raftAppliedIndex)
            XCTAssertGreaterThan(status.raftAppliedIndex, 0)
            XCTAssertEqual(status.version, KeelNode.version)
            XCTAssertTrue(status.errors.isEmpty, "\(status.errors)")

            let members = try await Etcdserverpb_Cluster.Client(wrapping: client).memberList(Etcdserverpb_MemberListRequest())
            XCTAssertEqual(members.members.count, 1)
            XCTAssertEqual(members.header.revision, 0, "etcd's cluster service leaves the revision out")
            XCTAssertEqual(members.header.memberID, server.node.id.rawValue)
            XCTAssertEqual(members.members.first?.name, "solo")
            XCTAssertEqual(members.members.first?.id, server.node.id.rawValue)
            XCTAssertEqual(members.members.first?.clientUrls, server.config.advertiseClientURLs.map(\.description))
            XCTAssertEqual(members.members.first?.peerUrls, server.config.initialAdvertisePeerURLs.map(\.description))
        }
    }

    func testBadRequestsGetEtcdsErrorsAndChangeNothing() async throws {
        try await withServer { _, _, client in
            let kv = Etcdserverpb_KV.Client(wrapping: client)
            let before = try await kv.range(.with { $0.key = Data("k".utf8) }).header.revision
            await assertRPCError(.invalidArgument, "etcdserver: key is not provided") {
                _ = try await kv.put(.with { $0.value = Data("v".utf8) })
            }
            await assertRPCError(.invalidArgument, "etcdserver: duplicate key given in txn request") {
                _ = try await kv.txn(.with { txn in
                    txn.success = [
                        .with { $0.request = .requestPut(.with { $0.key = Data("d".utf8) }) },
                        .with { $0.request = .requestPut(.with { $0.key = Data("d".utf8) }) },
                    ]
                })
            }
            await assertRPCError(.invalidArgument, "etcdserver: request is too large") {
                _ = try await kv.put(.with { $0.key = Data("big".utf8); $0.value = Data(count: 1_600_000) })
            }
            // Beyond --max-request-bytes plus gRPC's allowance the transport refuses the message.
            // etcd's grpc-go answers ResourceExhausted; grpc-swift's server resets the stream,
            // which the client reports as Unavailable. Either way nothing is written (checked below).
            do {
                _ = try await kv.put(.with { $0.key = Data("huge".utf8); $0.value = Data(count: 2_200_000) })
                XCTFail("a 2.2 MB put was accepted")
            } catch let error as RPCError {
                XCTAssertTrue([.resourceExhausted, .unavailable].contains(error.code), "\(error)")
            }
            let after = try await kv.range(.with { $0.key = Data("k".utf8) }).header.revision
            XCTAssertEqual(after, before, "refused requests wrote nothing")

            _ = try await kv.put(.with { $0.key = Data("c".utf8); $0.value = Data("1".utf8) })
            let latest = try await kv.put(.with { $0.key = Data("c".utf8); $0.value = Data("2".utf8) }).header.revision
            _ = try await kv.compact(.with { $0.revision = latest })
            await assertRPCError(.outOfRange, "etcdserver: mvcc: required revision has been compacted") {
                _ = try await kv.range(.with { $0.key = Data("c".utf8); $0.revision = latest - 1 })
            }
            await assertRPCError(.outOfRange, "etcdserver: mvcc: required revision is a future revision") {
                _ = try await kv.range(.with { $0.key = Data("c".utf8); $0.revision = latest + 100 })
            }
        }
    }

    func testLeaseServiceGrantsKeepsAliveReportsAndRevokesAsEtcdDoes() async throws {
        try await withServer { _, ports, client in
            let leases = Etcdserverpb_Lease.Client(wrapping: client)
            let kv = Etcdserverpb_KV.Client(wrapping: client)
            // The metrics registry is the process's: every in-process node of the test run (the
            // node simulation's too) counts into it, so this test counts what it adds.
            let metricsPort = ports.metrics[0]
            let countersBefore = try await Task.detached { try LoopbackHTTP.get(port: metricsPort, path: "/metrics") }.value
            let granted = try await leases.leaseGrant(.with { $0.ttl = 30 })
            XCTAssertGreaterThan(granted.id, 0)
            XCTAssertEqual(granted.ttl, 30)
            XCTAssertEqual(granted.error, "")
            let chosen = try await leases.leaseGrant(.with { $0.id = 0x1234; $0.ttl = 0 })
            XCTAssertEqual(chosen.id, 0x1234)
            XCTAssertEqual(chosen.ttl, 1, "raised to the shortest TTL: 1.5 election timeouts (300 ms here), in whole seconds")
            await assertRPCError(.failedPrecondition, "etcdserver: lease already exists") {
                _ = try await leases.leaseGrant(.with { $0.id = 0x1234; $0.ttl = 10 })
            }
            await assertRPCError(.outOfRange, "etcdserver: too large lease TTL") {
                _ = try await leases.leaseGrant(.with { $0.ttl = 9_000_000_001 })
            }
            _ = try await kv.put(.with { $0.key = Data("leased".utf8); $0.value = Data("v".utf8); $0.lease = granted.id })
            let got = try await kv.range(.with { $0.key = Data("leased".utf8) })
            XCTAssertEqual(got.kvs.first?.lease, granted.id)

            let ttl = try await leases.leaseTimeToLive(.with { $0.id = granted.id; $0.keys = true })
            XCTAssertEqual(ttl.id, granted.id)
            XCTAssertEqual(ttl.grantedTtl, 30)
            XCTAssertTrue((28...30).contains(ttl.ttl), "remaining \(ttl.ttl)")
            XCTAssertEqual(ttl.keys, [Data("leased".utf8)])
            let listed = try await leases.leaseLeases(Etcdserverpb_LeaseLeasesRequest())
            XCTAssertEqual(Set(listed.leases.map(\.id)), [granted.id, 0x1234])

            // The keepalive stream: one answer per request, TTL 0 for a lease that does not exist.
            let answers = try await leases.leaseKeepAlive(
                requestProducer: { writer in
                    for id in [granted.id, granted.id, 999] { try await writer.write(.with { $0.id = id }) }
                },
                onResponse: { response in
                    var collected: [Etcdserverpb_LeaseKeepAliveResponse] = []
                    for try await message in response.messages { collected.append(message) }
                    return collected
                })
            XCTAssertEqual(answers.map(\.id), [granted.id, granted.id, 999])
            XCTAssertEqual(answers.map(\.ttl), [30, 30, 0])

            _ = try await leases.leaseRevoke(.with { $0.id = granted.id })
            let after = try await kv.range(.with { $0.key = Data("leased".utf8) })
            XCTAssertEqual(after.kvs, [], "revoking deletes the attached key")
            let expired = try await leases.leaseTimeToLive(.with { $0.id = granted.id })
            XCTAssertEqual(expired.ttl, -1, "etcd answers a missing lease's time-to-live with TTL -1")
            await assertRPCError(.notFound, "etcdserver: requested lease not found") {
                _ = try await leases.leaseRevoke(.with { $0.id = granted.id })
            }
            await assertRPCError(.notFound, "etcdserver: requested lease not found") {
                _ = try await kv.put(.with { $0.key = Data("k".utf8); $0.value = Data("v".utf8); $0.lease = granted.id })
            }

            let metrics = try await Task.detached { try LoopbackHTTP.get(port: metricsPort, path: "/metrics") }.value
            for (name, added) in [("keel_lease_granted_total", 2.0), ("keel_lease_revoked_total", 1), ("keel_lease_renewed_total", 2)] {
                let before = Self.sample(name, in: countersBefore.body) ?? 0
                XCTAssertEqual(Self.sample(name, in: metrics.body).map { $0 - before }, added, "\(name) in /metrics")
            }
            XCTAssertNotNil(Self.sample("keel_lease_checkpoint_lag_seconds", in: metrics.body), "/metrics lacks the checkpoint lag")
        }
    }

    /// The value of the unlabelled sample `name` in Prometheus text, nil when absent.
    static func sample(_ name: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.dropFirst(name.count + 1))
        }
        return nil
    }

    func testUnservedMethodsAreUnimplementedAndAWatchEndsWithItsClientsSide() async throws {
        try await withServer { _, _, client in
            // Membership is served (MembershipProcessTests), with etcd's answers.
            await assertRPCError(.notFound, "etcdserver: member not found") {
                _ = try await Etcdserverpb_Cluster.Client(wrapping: client).memberRemove(.with { $0.id = 1 })
            }
            await assertRPCError(.unimplemented, nil) {
                _ = try await Etcdserverpb_Auth.Client(wrapping: client).authEnable(Etcdserverpb_AuthEnableRequest())
            }
            // Served now, and still after the client closed its side (etcd keeps such a stream):
            // a put after the create arrives as an event.
            let kv = Etcdserverpb_KV.Client(wrapping: client)
            let events = try await Etcdserverpb_Watch.Client(wrapping: client).watch(
                requestProducer: { writer in
                    try await writer.write(.with { $0.requestUnion = .createRequest(.with { $0.key = Data("w".utf8) }) })
                },
                onResponse: { response in
                    for try await message in response.messages {
                        if message.created { _ = try await kv.put(.with { $0.key = Data("w".utf8); $0.value = Data("1".utf8) }) }
                        if !message.events.isEmpty { return message.events.map { String(decoding: $0.kv.value, as: UTF8.self) } }
                    }
                    return []
                })
            XCTAssertEqual(events, ["1"])
        }
    }

    func testMetricsAndHealthOfARunningMember() async throws {
        try await withServer { _, ports, client in
            _ = try await Etcdserverpb_KV.Client(wrapping: client).put(.with { $0.key = Data("m".utf8); $0.value = Data("1".utf8) })
            let metricsPort = ports.metrics[0]
            let metrics = try await Task.detached { try LoopbackHTTP.get(port: metricsPort, path: "/metrics") }.value
            XCTAssertEqual(metrics.status, 200)
            XCTAssertTrue(metrics.body.contains(#"keel_grpc_requests_total{method="Put",code="OK"}"#), metrics.body)
            for name in ["keel_grpc_request_duration_seconds", "keel_proposals_committed_total", "keel_proposals_applied_total", "keel_has_leader", "keel_disk_fsync_duration_seconds"] {
                XCTAssertTrue(metrics.body.contains(name), "/metrics lacks \(name)")
            }
            let health = try await Task.detached { try LoopbackHTTP.get(port: metricsPort, path: "/health") }.value
            XCTAssertEqual(health.status, 200)
            XCTAssertEqual(health.body, #"{"health":"true"}"#)
        }
    }

    func testAMetricsPortInUseFailsTheRunAndReleasesTheDataDirectory() async throws {
        let occupied = try LoopbackPorts.Occupied()
        let config = try makeConfig(peer: try LoopbackPorts.free(), extra: [.listenMetricsURLs: "http://127.0.0.1:\(occupied.port)"])
        let logger = Logger(label: "test")
        let server = try KvdServer(config: config, network: KvdMain.makeTransport(config: config, logger: logger), logger: logger)
        do {
            try await server.run()
            XCTFail("ran with its metrics port taken")
        } catch let error as StartupError {
            XCTAssertEqual(error.message.hasPrefix("cannot listen on http://127.0.0.1:\(occupied.port) (--listen-metrics-urls)"), true, error.message)
        }
        let boundAfterFailure = await server.boundPorts()
        XCTAssertNil(boundAfterFailure)
        // The storage was closed: the same data directory opens again in this process.
        let again = try KvdServer(config: config, network: KvdMain.makeTransport(config: config, logger: logger), logger: logger)
        await again.node.stop()
        withExtendedLifetime(occupied) {}
    }

    func testEveryClientURLServes() async throws {
        let first = try LoopbackPorts.free()
        let second = try LoopbackPorts.free()
        try await withServer(extra: [.listenClientURLs: "http://127.0.0.1:\(first),http://localhost:\(second)"]) { _, ports, client in
            XCTAssertEqual(ports.client, [first, second])
            _ = try await Etcdserverpb_KV.Client(wrapping: client).put(.with { $0.key = Data("both".utf8); $0.value = Data("1".utf8) })
            let transport = try HTTP2ClientTransport.Posix(target: .ipv4(address: "127.0.0.1", port: second), transportSecurity: .plaintext)
            let value = try await withGRPCClient(transport: transport) { other in
                try await Etcdserverpb_KV.Client(wrapping: other).range(.with { $0.key = Data("both".utf8) }).kvs.first?.value
            }
            XCTAssertEqual(value, Data("1".utf8))
        }
    }

    func testWithoutQuorumARequestFailsWithinTheCallersDeadline() async throws {
        try await withServer(quorumLost: true) { server, ports, client in
            let kv = Etcdserverpb_KV.Client(wrapping: client)
            var options = CallOptions.defaults
            options.timeout = .milliseconds(500)
            let start = ContinuousClock.now
            do {
                _ = try await kv.put(.with { $0.key = Data("t".utf8); $0.value = Data("1".utf8) }, options: options)
                XCTFail("a put without quorum succeeded")
            } catch let error as RPCError {
                XCTAssertTrue([.unavailable, .deadlineExceeded].contains(error.code), "\(error)")
            }
            let elapsed = ContinuousClock.now - start
            // Within the caller's 500 ms (plus scheduling slack), far from the node's 5 s default.
            XCTAssertLessThan(elapsed, .seconds(2), "took \(elapsed)")
            let health = try await Task.detached { try LoopbackHTTP.get(port: ports.metrics[0], path: "/health") }.value
            XCTAssertEqual(health.status, 503)
            XCTAssertEqual(health.body, #"{"health":"false","reason":"RAFT NO LEADER"}"#)
            XCTAssertEqual(server.config.initialCluster.count, 2)
        }
    }

    private func assertRPCError(
        _ code: RPCError.Code, _ message: String?, file: StaticString = #filePath, line: UInt = #line, _ body: () async throws -> Void
    ) async {
        do {
            try await body()
            XCTFail("succeeded; expected \(code)", file: file, line: line)
        } catch let error as RPCError {
            XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
            if let message { XCTAssertEqual(error.message, message, file: file, line: line) }
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }
}
