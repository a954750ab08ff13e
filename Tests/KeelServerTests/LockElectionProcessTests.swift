import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import KeelProto
import Synchronization
import XCTest

/// etcd's Lock and Election services on real kvd processes: mutual exclusion, fencing tokens that
/// refuse a holder whose lease ran out, a waiter whose own lease ran out is not granted the lock,
/// and an election that hands over when the leader's lease ends.
final class LockElectionProcessTests: ClusterTestCase {
    static func grant(_ client: GRPCClient<HTTP2ClientTransport.Posix>, ttl: Int64) async throws -> Int64 {
        try await Etcdserverpb_Lease.Client(wrapping: client).leaseGrant(.with { $0.ttl = ttl }).id
    }

    static func createRevision(_ client: GRPCClient<HTTP2ClientTransport.Posix>, _ key: Data) async throws -> Int64? {
        try await Etcdserverpb_KV.Client(wrapping: client).range(.with { $0.key = key }).kvs.first?.createRevision
    }

    /// The fencing helper a lock holder uses: the write happens only while the lock key still has
    /// the holder's create revision (its token).
    static func fencedPut(_ client: GRPCClient<HTTP2ClientTransport.Posix>, lockKey: Data, token: Int64, key: String, value: String) async throws -> Bool {
        try await Etcdserverpb_KV.Client(wrapping: client).txn(
            .with {
                $0.compare = [.with { $0.key = lockKey; $0.target = .create; $0.result = .equal; $0.createRevision = token }]
                $0.success = [.with { $0.requestPut = .with { $0.key = Data(key.utf8); $0.value = Data(value.utf8) } }]
            }
        ).succeeded
    }

    func testTwoClientsContendingForALockNeverHoldItAtOnce() async throws {
        let (cluster, leader) = try startCluster()
        let ports = cluster.nodes.map(\.clientPort)
        _ = leader
        let holders = Locked(0)
        let overlaps = Locked(0)
        let tokens = Locked<[Int64]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for contender in 0..<2 {
                group.addTask {
                    try await withClient(port: ports[contender]) { client in
                        let lease = try await Self.grant(client, ttl: 30)
                        let locks = V3lockpb_Lock.Client(wrapping: client)
                        for _ in 0..<8 {
                            let key = try await locks.lock(.with { $0.name = Data("mutex".utf8); $0.lease = lease }).key
                            if holders.update({ $0 += 1; return $0 }) > 1 { overlaps.update { $0 += 1 } }
                            let token = try await Self.createRevision(client, key)
                            tokens.update { $0.append(token ?? -1) }
                            try await Task.sleep(for: .milliseconds(30))
                            holders.update { $0 -= 1 }
                            _ = try await locks.unlock(.with { $0.key = key })
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        XCTAssertEqual(overlaps.value, 0, "two clients held the lock at once")
        let granted = tokens.value
        XCTAssertEqual(granted.count, 16)
        XCTAssertEqual(granted, granted.sorted(), "fencing tokens must grow from one holder to the next")
        XCTAssertEqual(Set(granted).count, granted.count)
    }

    /// The holder stops renewing (as a paused process would); its lease expires, the waiter gets the
    /// lock, and the old holder's fenced write is refused while the new holder's goes through.
    func testAHolderWhoseLeaseRanOutIsFencedOffAndTheWaiterGetsTheLock() async throws {
        let (_, leader) = try startCluster()
        try await withClient(port: leader.node.clientPort) { client in
            let locks = V3lockpb_Lock.Client(wrapping: client)
            let shortLease = try await Self.grant(client, ttl: 3)
            let longLease = try await Self.grant(client, ttl: 60)
            let first = try await locks.lock(.with { $0.name = Data("fenced".utf8); $0.lease = shortLease }).key
            let firstRevision = try await Self.createRevision(client, first)
            let firstToken = try XCTUnwrap(firstRevision)
            let firstWrite = try await Self.fencedPut(client, lockKey: first, token: firstToken, key: "protected", value: "first")
            XCTAssertTrue(firstWrite)
            let started = ContinuousClock.now
            let second = try await locks.lock(.with { $0.name = Data("fenced".utf8); $0.lease = longLease }).key
            let waited = ContinuousClock.now - started
            XCTAssertGreaterThan(waited, .seconds(1), "the waiter was granted the lock while the first lease was alive")
            let secondRevision = try await Self.createRevision(client, second)
            let secondToken = try XCTUnwrap(secondRevision)
            XCTAssertGreaterThan(secondToken, firstToken)
            let staleWrite = try await Self.fencedPut(client, lockKey: first, token: firstToken, key: "protected", value: "stale")
            XCTAssertFalse(staleWrite, "the old holder's fenced write went through")
            let secondWrite = try await Self.fencedPut(client, lockKey: second, token: secondToken, key: "protected", value: "second")
            XCTAssertTrue(secondWrite)
            let value = try await Etcdserverpb_KV.Client(wrapping: client).range(.with { $0.key = Data("protected".utf8) }).kvs.first?.value
            XCTAssertEqual(value.map { String(decoding: $0, as: UTF8.self) }, "second")
        }
    }

    /// etcd-io/etcd#11456: a waiter whose lease expires while it waits must not be granted the lock
    /// when the holder lets go; its keys are gone and it holds nothing.
    func testAWaiterWhoseLeaseExpiredWhileWaitingIsNotGrantedTheLock() async throws {
        let (_, leader) = try startCluster()
        try await withClient(port: leader.node.clientPort) { client in
            let locks = V3lockpb_Lock.Client(wrapping: client)
            let holderLease = try await Self.grant(client, ttl: 60)
            let waiterLease = try await Self.grant(client, ttl: 3)
            let held = try await locks.lock(.with { $0.name = Data("expiring".utf8); $0.lease = holderLease }).key
            let waiter = Task {
                try await locks.lock(.with { $0.name = Data("expiring".utf8); $0.lease = waiterLease })
            }
            // The waiter's lease expires (3 s TTL, a checkpoint period at most) while it waits.
            let waiterKey = Data("expiring/".utf8) + Data(String(UInt64(bitPattern: waiterLease), radix: 16).utf8)
            let giveUp = ContinuousClock.now + .seconds(20)
            while try await Self.createRevision(client, waiterKey) == nil {
                guard ContinuousClock.now < giveUp else { return XCTFail("the waiter never wrote its key") }
                try await Task.sleep(for: .milliseconds(50))
            }
            while try await Self.createRevision(client, waiterKey) != nil {
                guard ContinuousClock.now < giveUp else { return XCTFail("the waiter's key outlived its lease") }
                try await Task.sleep(for: .milliseconds(200))
            }
            _ = try await locks.unlock(.with { $0.key = held })
            do {
                let granted = try await waiter.value
                XCTFail("a waiter whose lease expired was granted the lock: \(granted.key)")
            } catch let error as RPCError {
                XCTAssertEqual(error.message, "mutex: session is expired")
            }
        }
    }

    func testAnElectionHandsOverWhenTheLeadersLeaseEndsAndObserversSeeEachLeader() async throws {
        let (cluster, leader) = try startCluster()
        let follower = try XCTUnwrap(cluster.nodes.first { $0 !== leader.node })
        let observed = Locked<[String]>([])
        let followerPort = follower.clientPort
        let observer = Task {
            try await withClient(port: followerPort) { client in
                try await V3electionpb_Election.Client(wrapping: client).observe(.with { $0.name = Data("chief".utf8) }) { response in
                    for try await message in response.messages {
                        observed.update { $0.append(String(decoding: message.kv.value, as: UTF8.self)) }
                    }
                }
            }
        }
        defer { observer.cancel() }
        try await withClient(port: leader.node.clientPort) { client in
            let election = V3electionpb_Election.Client(wrapping: client)
            let leases = Etcdserverpb_Lease.Client(wrapping: client)
            let firstLease = try await Self.grant(client, ttl: 60)
            let secondLease = try await Self.grant(client, ttl: 60)
            let first = try await election.campaign(.with { $0.name = Data("chief".utf8); $0.lease = firstLease; $0.value = Data("a1".utf8) }).leader
            let challenger = Task {
                try await election.campaign(.with { $0.name = Data("chief".utf8); $0.lease = secondLease; $0.value = Data("b1".utf8) }).leader
            }
            _ = try await election.proclaim(.with { $0.leader = first; $0.value = Data("a2".utf8) })
            let current = try await election.leader(.with { $0.name = Data("chief".utf8) })
            XCTAssertEqual(String(decoding: current.kv.value, as: UTF8.self), "a2")
            // The leader's lease ends: the challenger takes over.
            _ = try await leases.leaseRevoke(.with { $0.id = firstLease })
            let second = try await challenger.value
            XCTAssertGreaterThan(second.rev, first.rev)
            let after = try await election.leader(.with { $0.name = Data("chief".utf8) })
            XCTAssertEqual(String(decoding: after.kv.value, as: UTF8.self), "b1")
            // The old leader's key no longer holds the election.
            do {
                _ = try await election.proclaim(.with { $0.leader = first; $0.value = Data("a3".utf8) })
                XCTFail("a former leader proclaimed")
            } catch let error as RPCError {
                XCTAssertEqual(error.message, "election: not leader")
                XCTAssertEqual(error.code, .unknown, "etcd answers with gRPC's Unknown")
            }
            _ = try await election.resign(.with { $0.leader = second })
            do {
                _ = try await election.leader(.with { $0.name = Data("chief".utf8) })
                XCTFail("an election without candidates has a leader")
            } catch let error as RPCError {
                XCTAssertEqual(error.message, "election: no leader")
                XCTAssertEqual(error.code, .unknown, "etcd answers with gRPC's Unknown")
            }
        }
        let giveUp = ContinuousClock.now + .seconds(10)
        while observed.value != ["a1", "a2", "b1"], ContinuousClock.now < giveUp { try await Task.sleep(for: .milliseconds(50)) }
        XCTAssertEqual(observed.value, ["a1", "a2", "b1"])
    }
}

/// A value shared by test tasks.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    var value: Value { mutex.withLock { $0 } }
    @discardableResult
    func update<T: Sendable>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
}
