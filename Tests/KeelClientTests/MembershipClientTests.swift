import Foundation
import GRPCCore
import KeelClient
import XCTest

/// The membership calls against in-test Cluster services: each sends what it is given, none is
/// sent again to another member once it may have reached a server (a change is not idempotent),
/// and peer URLs etcd's client would refuse never leave the client.
final class MembershipClientTests: XCTestCase {
    func configuration(_ ports: [Int]) -> KeelClientConfiguration {
        KeelClientConfiguration(
            endpoints: ports.map { Endpoint(host: "127.0.0.1", port: $0) }, dialTimeout: .seconds(2), commandTimeout: .seconds(5))
    }

    func testEachChangeSendsWhatItIsGiven() async throws {
        let cluster = FakeCluster(memberID: 3)
        try await withFakeServers([cluster]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                let added = try await client.memberAdd(peerURLs: ["http://10.0.0.1:2380", "http://10.0.0.2:2380"], isLearner: true)
                XCTAssertEqual(added.member.id, FakeCluster.addedMemberID)
                XCTAssertEqual(added.header.memberID, 3)
                _ = try await client.memberAdd(peerURLs: ["https://h:1"])
                _ = try await client.memberUpdate(id: 0xabc, peerURLs: ["unix://s:1"])
                _ = try await client.memberPromote(id: 0xdef)
                _ = try await client.memberRemove(id: UInt64.max)
            }
        }
        XCTAssertEqual(
            cluster.calls,
            [
                "add urls=http://10.0.0.1:2380,http://10.0.0.2:2380 learner=true", "add urls=https://h:1 learner=false",
                "update 2748 urls=unix://s:1", "promote 3567", "remove \(UInt64.max)",
            ])
    }

    func testAChangeThatMayHaveReachedAServerIsNotSentAgainElsewhere() async throws {
        let sick = FakeCluster(memberID: 1, failure: RPCError(code: .unavailable, message: "etcdserver: request timed out"))
        let live = FakeCluster(memberID: 2)
        try await withFakeServers([sick, live]) { ports in
            let changes: [(String, @Sendable (KeelClient) async throws -> Void)] = [
                ("add", { _ = try await $0.memberAdd(peerURLs: ["http://10.0.0.1:2380"], isLearner: true) }),
                ("remove", { _ = try await $0.memberRemove(id: 5) }),
                ("update", { _ = try await $0.memberUpdate(id: 5, peerURLs: ["http://10.0.0.1:2380"]) }),
                ("promote", { _ = try await $0.memberPromote(id: 5) }),
            ]
            for (name, change) in changes {
                // A fresh client starts at the sick endpoint.
                try await KeelClient.withClient(configuration(ports)) { client in
                    do {
                        try await change(client)
                        XCTFail("\(name): a change whose outcome is unknown must not be sent again elsewhere")
                    } catch let error as KeelClientError {
                        XCTAssertEqual(error.code, .unavailable, name)
                        XCTAssertEqual(error.message, "etcdserver: request timed out", name)
                        XCTAssertTrue(error.mayHaveReachedServer, name)
                    }
                }
            }
            // The list only reads: it moves on.
            try await KeelClient.withClient(configuration(ports)) { client in
                let list = try await client.memberList()
                XCTAssertEqual(list.header.memberID, 2)
            }
        }
        XCTAssertEqual(
            sick.calls, ["add urls=http://10.0.0.1:2380 learner=true", "remove 5", "update 5 urls=http://10.0.0.1:2380", "promote 5", "list"])
        XCTAssertEqual(live.calls, ["list"])
    }

    func testAChangeRefusedForWantOfALeaderGoesToTheNextMember() async throws {
        let leaderless = FakeCluster(memberID: 1, failure: RPCError(code: .unavailable, message: "etcdserver: no leader"))
        let live = FakeCluster(memberID: 2)
        try await withFakeServers([leaderless, live]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                let added = try await client.memberAdd(peerURLs: ["http://10.0.0.1:2380"])
                XCTAssertEqual(added.header.memberID, 2)
            }
        }
        XCTAssertEqual(leaderless.calls.count, 1)
        XCTAssertEqual(live.calls.count, 1)
    }

    func testPeerURLsEtcdsClientRefusesAreNeverSent() async throws {
        let cluster = FakeCluster(memberID: 3)
        try await withFakeServers([cluster]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                for urls in [["127.0.0.1:2380"], ["http://127.0.0.1:2380/path"], [], ["http://a:1", "ftp://b:2"]] {
                    do {
                        _ = try await client.memberAdd(peerURLs: urls)
                        XCTFail("\(urls) was accepted")
                    } catch let error as KeelClientError {
                        XCTAssertEqual(error.code, .invalidArgument, "\(urls)")
                        XCTAssertEqual(error.message, PeerURLs.problem(in: urls), "\(urls)")
                        XCTAssertFalse(error.mayHaveReachedServer, "\(urls)")
                    }
                }
                do {
                    _ = try await client.memberUpdate(id: 1, peerURLs: ["http://h"])
                    XCTFail("a URL without a port was accepted")
                } catch let error as KeelClientError {
                    XCTAssertEqual(error.message, #"URL address does not have the form "host:port": http://h"#)
                }
            }
        }
        XCTAssertEqual(cluster.calls, [])
    }

    /// etcd's client's wording (`types.NewURLs` and Go's URL parser), as etcdctl 3.4 printed it for
    /// these inputs; KvctlMemberEtcdTests compares the same inputs with etcdctl run for run.
    func testPeerURLProblemsAreWordedAsEtcdsClientWordsThem() {
        let cases: [(String, String?)] = [
            ("http://127.0.0.1:2380", nil), ("HTTP://127.0.0.1:2380", nil), (" http://127.0.0.1:2380 ", nil),
            ("http://[::1]:5", nil), ("http://a:1?x", nil), ("http://u@a:1", nil), ("unixs://x:1", nil), ("http://a:1#f", nil),
            ("http://127.0.0.1:", nil),
            ("127.0.0.1:2380", #"parse "127.0.0.1:2380": first path segment in URL cannot contain colon"#),
            ("localhost:2380", "URL scheme must be http, https, unix, or unixs: localhost:2380"),
            ("http://h:abc", #"parse "http://h:abc": invalid port ":abc" after host"#),
            ("", "URL scheme must be http, https, unix, or unixs: "),
            (":80", #"parse ":80": missing protocol scheme"#),
            ("http://a b:1", #"parse "http://a b:1": invalid character " " in host name"#),
            ("http://a:1:2", #"URL address does not have the form "host:port": http://a:1:2"#),
            ("http://127.0.0.1", #"URL address does not have the form "host:port": http://127.0.0.1"#),
            ("http://127.0.0.1:47099/path", "URL must not contain a path: http://127.0.0.1:47099/path"),
        ]
        for (url, expected) in cases {
            XCTAssertEqual(PeerURLs.problem(in: [url]), expected, url)
        }
        XCTAssertEqual(PeerURLs.problem(in: []), "no valid URLs given")
        XCTAssertEqual(PeerURLs.problem(in: ["http://a:1", "b"]), "URL scheme must be http, https, unix, or unixs: b", "the first bad one")
    }
}
