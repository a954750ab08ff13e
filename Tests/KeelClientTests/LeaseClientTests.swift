import Foundation
import GRPCCore
import KeelClient
import KeelProto
import XCTest

/// The client's lease calls against an in-test Lease service: grant, revoke, time to live, list,
/// one renewal, and the background keep-alive with its renewal rhythm, failover, ending and cleanup.
final class LeaseClientTests: XCTestCase {
    func configuration(_ ports: [Int], dial: Duration = .seconds(2), command: Duration = .seconds(5)) -> KeelClientConfiguration {
        KeelClientConfiguration(
            endpoints: ports.map { Endpoint(host: "127.0.0.1", port: $0) }, dialTimeout: dial, commandTimeout: command)
    }

    /// Polls `condition` until it holds or `limit` passes; returns whether it held.
    func eventually(within limit: Duration = .seconds(5), _ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now.advanced(by: limit)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    func testGrantTimeToLiveListAndRevoke() async throws {
        let lease = FakeLease()
        try await withFakeServers([lease]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                let granted = try await client.leaseGrant(ttl: 60)
                XCTAssertEqual(granted.ttl, 60)
                XCTAssertNotEqual(granted.id, 0, "the server chose an ID")
                let chosen = try await client.leaseGrant(ttl: 30, id: 0x1234)
                XCTAssertEqual(chosen.id, 0x1234)

                let alive = try await client.leaseTimeToLive(id: granted.id)
                XCTAssertEqual(alive.grantedTtl, 60)
                XCTAssertEqual(alive.ttl, 59)
                let listed = try await client.leaseLeases()
                XCTAssertEqual(listed.leases.map(\.id), [0x1234, granted.id])

                _ = try await client.leaseRevoke(id: granted.id)
                let listedAfter = try await client.leaseLeases()
                XCTAssertEqual(listedAfter.leases.map(\.id), [0x1234])
                let gone = try await client.leaseTimeToLive(id: granted.id)
                XCTAssertEqual(gone.ttl, -1, "etcd answers a missing lease's time to live with -1, not an error")
                do {
                    _ = try await client.leaseRevoke(id: granted.id)
                    XCTFail("revoking a missing lease must fail")
                } catch let error as KeelClientError {
                    XCTAssertEqual(error.code, .notFound)
                    XCTAssertEqual(error.message, "etcdserver: requested lease not found")
                }
            }
        }
    }

    func testTimeToLiveListsTheAttachedKeysOnlyWhenAsked() async throws {
        let lease = FakeLease()
        lease.add(id: 7, ttl: 100, keys: ["k1", "k2"])
        try await withFakeServers([lease]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                let withoutKeys = try await client.leaseTimeToLive(id: 7)
                XCTAssertEqual(withoutKeys.keys, [])
                let withKeys = try await client.leaseTimeToLive(id: 7, keys: true)
                XCTAssertEqual(withKeys.keys, [Data("k1".utf8), Data("k2".utf8)])
            }
        }
    }

    func testAGrantIsNotRepeatedElsewhereOnceItMayHaveArrivedButAReadIs() async throws {
        let unavailable = RPCError(code: .unavailable, message: "etcdserver: request timed out")
        let sick = FailingLease(error: unavailable)
        let live = FakeLease()
        try await withFakeServers([sick, live]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                do {
                    _ = try await client.leaseGrant(ttl: 60)
                    XCTFail("a grant that may have been applied must not be sent again: it would make a second lease")
                } catch let error as KeelClientError {
                    XCTAssertEqual(error.code, .unavailable)
                    XCTAssertTrue(error.mayHaveReachedServer)
                }
            }
            XCTAssertEqual(live.leaseCount, 0, "no lease was granted on the second endpoint")
            try await KeelClient.withClient(configuration(ports)) { client in
                let missing = try await client.leaseTimeToLive(id: 1)
                XCTAssertEqual(missing.ttl, -1, "a read moves on to the live endpoint")
                let none = try await client.leaseLeases()
                XCTAssertEqual(none.leases, [])
            }
        }
    }

    func testPutCarriesTheLease() async throws {
        let kv = FakeKV(memberID: 1)
        try await withFakeServers([kv]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                _ = try await client.put("k", "v", lease: 0x694d)
            }
        }
        XCTAssertEqual(kv.puts.map(\.lease), [0x694d])
    }

    func testKeepAliveOnceRenewsAndAMissingLeaseIsNotFound() async throws {
        let lease = FakeLease()
        lease.add(id: 42, ttl: 60)
        try await withFakeServers([lease]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                let renewed = try await client.keepAliveOnce(id: 42)
                XCTAssertEqual(renewed.id, 42)
                XCTAssertEqual(renewed.ttl, 60)
                do {
                    _ = try await client.keepAliveOnce(id: 43)
                    XCTFail("a renewal answered with TTL 0 means the lease is gone")
                } catch let error as KeelClientError {
                    XCTAssertEqual(error.code, .notFound)
                    XCTAssertEqual(error.message, "etcdserver: requested lease not found")
                }
            }
        }
        XCTAssertEqual(lease.renewalTimes.count, 2)
        let closed = try await eventually { lease.openStreams == 0 }
        XCTAssertTrue(closed, "each one-off renewal closes its stream")
    }

    func testKeepAliveRenewsAtOnceThenEveryThirdOfTheTTL() async throws {
        let lease = FakeLease()
        lease.add(id: 5, ttl: 3)
        let clock = ContinuousClock()
        let start = clock.now
        try await withFakeServers([lease]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                var answers = 0
                for try await answer in client.keepAlive(id: 5) {
                    XCTAssertEqual(answer.id, 5)
                    XCTAssertEqual(answer.ttl, 3)
                    answers += 1
                    if answers == 3 { break }
                }
            }
        }
        let times = lease.renewalTimes
        XCTAssertGreaterThanOrEqual(times.count, 3)
        XCTAssertLessThan(start.duration(to: times[0]), .milliseconds(900), "the first renewal goes out at once")
        for (earlier, later) in zip(times, times.dropFirst()).prefix(2) {
            let gap = earlier.duration(to: later)
            XCTAssertGreaterThanOrEqual(gap, .milliseconds(950), "renewals are a third of the 3 s TTL apart, not sooner")
            XCTAssertLessThan(gap, .milliseconds(1350), "renewals are a third of the 3 s TTL apart, not later (half would be 1.5 s)")
        }
    }

    func testCancellingTheReaderClosesTheStreamAndStopsTheRenewals() async throws {
        let lease = FakeLease()
        lease.add(id: 5, ttl: 1)
        try await withFakeServers([lease]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                let reader = Task {
                    for try await _ in client.keepAlive(id: 5) {}
                }
                let renewing = try await eventually { lease.renewalTimes.count >= 2 }
                XCTAssertTrue(renewing, "the keep-alive never renewed twice")
                reader.cancel()
                // Cancellation ends the iteration quietly (nil), as cancelling any AsyncStream reader does.
                _ = try await reader.value
                try await assertRenewalsStop(lease)
            }
        }
    }

    func testDroppingTheSequenceClosesTheStreamAndStopsTheRenewals() async throws {
        let lease = FakeLease()
        lease.add(id: 5, ttl: 1)
        try await withFakeServers([lease]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                do {
                    var answers = client.keepAlive(id: 5).makeAsyncIterator()
                    let first = try await answers.next()
                    XCTAssertEqual(first?.ttl, 1)
                    XCTAssertEqual(lease.openStreams, 1)
                }
                try await assertRenewalsStop(lease)
                // One never read at all is stopped when dropped as well.
                _ = client.keepAlive(id: 5)
                try await assertRenewalsStop(lease)
            }
        }
    }

    /// The keepalive stream closes, and no renewal arrives for longer than the renewal interval.
    func assertRenewalsStop(_ lease: FakeLease, file: StaticString = #filePath, line: UInt = #line) async throws {
        let closed = try await eventually { lease.openStreams == 0 }
        XCTAssertTrue(closed, "the keepalive stream was left open", file: file, line: line)
        let count = lease.renewalTimes.count
        try await Task.sleep(for: .milliseconds(800))
        XCTAssertEqual(lease.renewalTimes.count, count, "renewals went on after the sequence ended", file: file, line: line)
        XCTAssertEqual(lease.openStreams, 0, "a new keepalive stream was opened", file: file, line: line)
    }

    func testTheSequenceEndsWithNotFoundOnceTheLeaseIsGone() async throws {
        let lease = FakeLease()
        lease.add(id: 5, ttl: 1)
        try await withFakeServers([lease]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                var answers = 0
                do {
                    for try await _ in client.keepAlive(id: 5) {
                        answers += 1
                        if answers == 2 { lease.expire(id: 5) }
                    }
                    XCTFail("the sequence must end with an error when the lease is gone, not quietly")
                } catch let error as KeelClientError {
                    XCTAssertEqual(error.code, .notFound)
                    XCTAssertEqual(error.message, "etcdserver: requested lease not found")
                }
                XCTAssertEqual(answers, 2)
                try await assertRenewalsStop(lease)
            }
        }
    }

    func testAFailedStreamMovesToTheNextEndpoint() async throws {
        let failing = FakeLease(
            memberID: 1, behaviour: .failAfter(answers: 1, error: RPCError(code: .unavailable, message: "going away")))
        let live = FakeLease(memberID: 2)
        // 3 s: a renewal every second, and time for the pause before the second stream.
        failing.add(id: 5, ttl: 3)
        live.add(id: 5, ttl: 3)
        try await withFakeServers([failing, live]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                var members: [UInt64] = []
                for try await answer in client.keepAlive(id: 5) {
                    members.append(answer.header.memberID)
                    if members.count == 3 { break }
                }
                XCTAssertEqual(members, [1, 2, 2], "after the first endpoint's stream failed, the second renews")
            }
        }
    }

    func testAHungEndpointIsLeftAfterTheDialTimeout() async throws {
        let hung = FakeLease(memberID: 1, behaviour: .silentAfter(answers: 1))
        let live = FakeLease(memberID: 2)
        // 6 s: the second renewal goes out after 2 s, is given up 0.5 to 1 s later, and the next
        // stream opens 0.5 s after that, well before the lease would run out.
        hung.add(id: 5, ttl: 6)
        live.add(id: 5, ttl: 6)
        try await withFakeServers([hung, live]) { ports in
            try await KeelClient.withClient(configuration(ports, dial: .milliseconds(500))) { client in
                var members: [UInt64] = []
                for try await answer in client.keepAlive(id: 5) {
                    members.append(answer.header.memberID)
                    if members.count == 2 { break }
                }
                XCTAssertEqual(members, [1, 2], "an unanswered renewal moves the keep-alive to the next endpoint")
            }
        }
        let closed = try await eventually { hung.openStreams == 0 }
        XCTAssertTrue(closed, "the hung stream was closed, not left behind")
    }

    func testTheSequenceEndsWhenNoRenewalGetsThroughWithinTheTTL() async throws {
        let hung = FakeLease(behaviour: .silentAfter(answers: 1))
        hung.add(id: 5, ttl: 2)
        let clock = ContinuousClock()
        try await withFakeServers([hung]) { ports in
            try await KeelClient.withClient(configuration(ports, dial: .milliseconds(300))) { client in
                var firstAnswerAt: ContinuousClock.Instant?
                do {
                    for try await _ in client.keepAlive(id: 5) { firstAnswerAt = clock.now }
                    XCTFail("the sequence must end with an error once the lease may have expired")
                } catch let error as KeelClientError {
                    XCTAssertEqual(error.code, .deadlineExceeded)
                    XCTAssertTrue(error.message.hasPrefix("lease 0000000000000005 was not renewed before its TTL ran out"), error.message)
                    let answered = try XCTUnwrap(firstAnswerAt)
                    let waited = answered.duration(to: clock.now)
                    XCTAssertGreaterThanOrEqual(waited, .milliseconds(1900), "the lease had its whole 2 s TTL")
                    XCTAssertLessThan(waited, .seconds(4), "and not much more")
                }
            }
        }
        let closed = try await eventually { hung.openStreams == 0 }
        XCTAssertTrue(closed, "the stream was closed when the sequence ended")
    }

    func testTheFirstAnswerMustComeWithinTheCommandTimeout() async throws {
        // A server that accepts the connection and never speaks: not even the first renewal is answered.
        let hung = try BoundSocket(listen: true)
        let clock = ContinuousClock()
        let start = clock.now
        try await KeelClient.withClient(configuration([hung.port], dial: .milliseconds(300), command: .seconds(1))) { client in
            do {
                for try await _ in client.keepAlive(id: 5) { XCTFail("no answer can come") }
                XCTFail("the sequence must end with an error")
            } catch let error as KeelClientError {
                XCTAssertEqual(error.code, .deadlineExceeded)
                XCTAssertTrue(
                    error.message.hasPrefix("lease 0000000000000005: no answer to its first renewal within the command timeout of 1s"),
                    error.message)
            }
        }
        let took = start.duration(to: clock.now)
        XCTAssertGreaterThanOrEqual(took, .milliseconds(950))
        XCTAssertLessThan(took, .seconds(3))
    }

    func testAServerWithoutLeasesEndsTheSequenceWithItsError() async throws {
        // kvd before leases: the Lease service is not there at all.
        try await withFakeServers([FakeKV(memberID: 1)]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                do {
                    for try await _ in client.keepAlive(id: 5) { XCTFail("no answer can come") }
                    XCTFail("the sequence must end with the server's error")
                } catch let error as KeelClientError {
                    XCTAssertEqual(error.code, .unimplemented)
                }
            }
        }
    }
}

/// A Lease service whose every call fails with one error (for the retry rules).
final class FailingLease: Etcdserverpb_Lease.SimpleServiceProtocol {
    let error: RPCError
    init(error: RPCError) { self.error = error }

    func leaseGrant(request: Etcdserverpb_LeaseGrantRequest, context: ServerContext) async throws
        -> Etcdserverpb_LeaseGrantResponse
    { throw error }
    func leaseRevoke(request: Etcdserverpb_LeaseRevokeRequest, context: ServerContext) async throws
        -> Etcdserverpb_LeaseRevokeResponse
    { throw error }
    func leaseKeepAlive(
        request: RPCAsyncSequence<Etcdserverpb_LeaseKeepAliveRequest, any Error>,
        response: RPCWriter<Etcdserverpb_LeaseKeepAliveResponse>, context: ServerContext
    ) async throws { throw error }
    func leaseTimeToLive(request: Etcdserverpb_LeaseTimeToLiveRequest, context: ServerContext) async throws
        -> Etcdserverpb_LeaseTimeToLiveResponse
    { throw error }
    func leaseLeases(request: Etcdserverpb_LeaseLeasesRequest, context: ServerContext) async throws
        -> Etcdserverpb_LeaseLeasesResponse
    { throw error }
}
