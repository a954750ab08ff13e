import Foundation
import GRPCCore
import KeelClient
import XCTest

/// The client against in-test gRPC servers on loopback: it passes over endpoints that are down and
/// reaches the live one, but never repeats a write that may have reached a server.
final class FailoverTests: XCTestCase {
    func configuration(_ ports: [Int], dial: Duration = .seconds(2), command: Duration = .seconds(5))
        -> KeelClientConfiguration
    {
        KeelClientConfiguration(
            endpoints: ports.map { Endpoint(host: "127.0.0.1", port: $0) }, dialTimeout: dial, commandTimeout: command)
    }

    func testSkipsARefusingEndpointAndReachesTheLiveOne() async throws {
        let live = FakeKV(memberID: 7)
        let dead = try closedPort()
        try await withFakeServers([live]) { ports in
            try await KeelClient.withClient(configuration([dead, ports[0]])) { client in
                let read = try await client.get("k")
                XCTAssertEqual(read.header.memberID, 7)
                XCTAssertEqual(read.kvs.first?.value, Data("from 7".utf8))
                // A write that was refused at connect time never left: it may go to the next endpoint.
                let write = try await client.put("k", "v")
                XCTAssertEqual(write.header.memberID, 7)
            }
        }
        XCTAssertEqual(live.callCount, 2)
    }

    func testSkipsAHungEndpointAfterTheDialTimeout() async throws {
        let hung = try BoundSocket(listen: true)
        let live = FakeKV(memberID: 9)
        let dial: Duration = .milliseconds(300)
        try await withFakeServers([live]) { ports in
            try await KeelClient.withClient(configuration([hung.port, ports[0]], dial: dial)) { client in
                let clock = ContinuousClock()
                let start = clock.now
                let write = try await client.put("k", "v")
                let took = start.duration(to: clock.now)
                XCTAssertEqual(write.header.memberID, 9)
                XCTAssertGreaterThanOrEqual(took, dial, "the hung endpoint is given the dial timeout")
                XCTAssertLessThan(took, .seconds(5), "and no more than that, not the command timeout")
            }
        }
        XCTAssertEqual(live.callCount, 1)
    }

    func testAnUnavailableServerIsPassedOverForReadsButNotForWrites() async throws {
        let sick = FakeKV(memberID: 1, failure: RPCError(code: .unavailable, message: "etcdserver: request timed out"))
        let live = FakeKV(memberID: 2)
        try await withFakeServers([sick, live]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                let read = try await client.get("k")
                XCTAssertEqual(read.header.memberID, 2, "a read moves on from Unavailable")
            }
            // A fresh client starts at the sick endpoint again.
            try await KeelClient.withClient(configuration(ports)) { client in
                do {
                    _ = try await client.put("k", "v")
                    XCTFail("a write whose outcome is unknown must not be sent again elsewhere")
                } catch let error as KeelClientError {
                    XCTAssertEqual(error.code, .unavailable)
                    XCTAssertEqual(error.message, "etcdserver: request timed out")
                    XCTAssertEqual(error.endpoint, Endpoint(host: "127.0.0.1", port: ports[0]))
                    XCTAssertTrue(error.mayHaveReachedServer, "the server took the request: its outcome is unknown")
                }
            }
        }
        XCTAssertEqual(sick.callCount, 2)
        XCTAssertEqual(live.callCount, 1)
    }

    func testAWriteRefusedForWantOfALeaderGoesToTheNextMember() async throws {
        let leaderless = FakeKV(memberID: 1, failure: RPCError(code: .unavailable, message: "etcdserver: no leader"))
        let live = FakeKV(memberID: 2)
        try await withFakeServers([leaderless, live]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                let write = try await client.put("k", "v")
                XCTAssertEqual(write.header.memberID, 2)
            }
        }
        XCTAssertEqual(leaderless.callCount, 1)
        XCTAssertEqual(live.callCount, 1)
    }

    func testAfterEveryEndpointIsPassedOverTheCallGoesRoundAgain() async throws {
        let electing = FakeKV(
            memberID: 4, failure: RPCError(code: .unavailable, message: "etcdserver: no leader"), failingCalls: 1)
        try await withFakeServers([electing]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                let write = try await client.put("k", "v")
                XCTAssertEqual(write.header.memberID, 4)
            }
        }
        XCTAssertEqual(electing.callCount, 2, "refused once, then taken on the second pass")
    }

    func testTheServersErrorCodeAndTextReachTheCaller() async throws {
        let compacted = FakeKV(
            memberID: 1, failure: RPCError(code: .outOfRange, message: "etcdserver: mvcc: required revision has been compacted"))
        let other = FakeKV(memberID: 2)
        try await withFakeServers([compacted, other]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                do {
                    _ = try await client.get("k")
                    XCTFail("the call should fail")
                } catch let error as KeelClientError {
                    XCTAssertEqual(error.code, .outOfRange)
                    XCTAssertEqual(error.description, "etcdserver: mvcc: required revision has been compacted")
                }
            }
        }
        XCTAssertEqual(other.callCount, 0, "an answer other than Unavailable is final")
    }

    func testTheClientStaysWithTheEndpointThatAnswered() async throws {
        let first = FakeKV(memberID: 1)
        let second = FakeKV(memberID: 2)
        let dead = try closedPort()
        try await withFakeServers([first, second]) { ports in
            try await KeelClient.withClient(configuration([dead, ports[1], ports[0]])) { client in
                for _ in 0..<3 { _ = try await client.get("k") }
            }
        }
        XCTAssertEqual(second.callCount, 3)
        XCTAssertEqual(first.callCount, 0)
    }

    func testAWriteThatNoServerReceivedSaysSo() async throws {
        let refusing = try closedPort()
        let leaderless = FakeKV(memberID: 1, failure: RPCError(code: .unavailable, message: "etcdserver: no leader"))
        try await withFakeServers([leaderless]) { ports in
            for endpoints in [[refusing], ports] {
                try await KeelClient.withClient(configuration(endpoints, command: .seconds(2))) { client in
                    do {
                        _ = try await client.put("k", "v")
                        XCTFail("the write cannot succeed")
                    } catch let error as KeelClientError {
                        // Refused at connect time, or refused by a member without a leader: never taken.
                        XCTAssertFalse(error.mayHaveReachedServer, "\(endpoints): \(error.message)")
                    }
                }
            }
        }
        let hung = try BoundSocket(listen: true)
        try await KeelClient.withClient(configuration([hung.port], dial: .milliseconds(200), command: .seconds(1))) { client in
            do {
                _ = try await client.put("k", "v")
                XCTFail("a hung endpoint never answers")
            } catch let error as KeelClientError {
                XCTAssertFalse(error.mayHaveReachedServer, "no HTTP/2 stream ever opened: \(error.message)")
            }
        }
    }

    func testEveryEndpointDownGivesOneErrorNamingEach() async throws {
        let ports = [try closedPort(), try closedPort()]
        try await KeelClient.withClient(configuration(ports, command: .seconds(3))) { client in
            do {
                _ = try await client.get("k")
                XCTFail("no endpoint is up")
            } catch let error as KeelClientError {
                XCTAssertEqual(error.code, .unavailable)
                XCTAssertEqual(error.attempts.map(\.endpoint.port), ports)
                for port in ports { XCTAssertTrue(error.message.contains("127.0.0.1:\(port)"), error.message) }
            }
        }
    }

    func testTheCommandTimeoutBoundsAHungEndpoint() async throws {
        let hung = try BoundSocket(listen: true)
        let command: Duration = .milliseconds(400)
        try await KeelClient.withClient(configuration([hung.port], dial: .seconds(10), command: command)) { client in
            let clock = ContinuousClock()
            let start = clock.now
            do {
                _ = try await client.get("k")
                XCTFail("the endpoint never answers")
            } catch let error as KeelClientError {
                XCTAssertEqual(error.code, .deadlineExceeded)
                XCTAssertTrue(error.message.hasPrefix("context deadline exceeded"), error.message)
            }
            XCTAssertLessThan(start.duration(to: clock.now), .seconds(5))
        }
    }
}

/// Many calls over one connection: NIO's HTTP/2 guard closes a connection that receives more than
/// 200 RST_STREAM frames in 10 s, so a server that resets every finished stream would cut the
/// connection every 200 calls. Against grpc-swift's server (kvd's), every call must succeed.
final class ConnectionReuseTests: XCTestCase {
    func testSixHundredSequentialPutsOnOneConnectionAllSucceed() async throws {
        let live = FakeKV(memberID: 3)
        let callsCount = 600
        try await withFakeServers([live]) { ports in
            let configuration = KeelClientConfiguration(endpoints: [Endpoint(host: "127.0.0.1", port: ports[0])])
            try await KeelClient.withClient(configuration) { client in
                for index in 0..<callsCount {
                    _ = try await client.put("k\(index)", "v")
                }
            }
        }
        XCTAssertEqual(live.callCount, callsCount)
    }
}
