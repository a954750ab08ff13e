import Foundation
import KeelClient
import KeelProto
import XCTest

/// Session, DistributedMutex and Election against a real etcd 3.4, and the watch's answers from
/// it: the order in which locks are granted, the refusal of a waiter whose lease ended while it
/// waited (etcd-io/etcd#11456), fencing, and leadership as observed.
class ConcurrencyEtcdTests: XCTestCase {
    /// The longest any one test may run before it fails.
    static let testTimeLimit: Duration = .seconds(60)

    /// The server these tests run against: etcd here, kvd in ``ConcurrencyKvdTests``.
    class var server: (binary: String, extraArguments: [String]) { (EtcdProcess.binary, []) }

    /// Runs `body` with a client of a fresh etcd, failing if it takes longer than ``testTimeLimit``.
    func withEtcd(_ body: @escaping @Sendable (KeelClient, EtcdProcess) async throws -> Void) async throws {
        let server = Self.server
        try await EtcdProcess.with(binary: server.binary, extraArguments: server.extraArguments) { etcd in
            let configuration = KeelClientConfiguration(endpoints: [etcd.endpoint])
            try await KeelClient.withClient(configuration) { client in
                try await withThrowingTaskGroup(of: Bool.self) { group in
                    group.addTask {
                        try await body(client, etcd)
                        return true
                    }
                    group.addTask {
                        try await Task.sleep(for: Self.testTimeLimit)
                        return false
                    }
                    let finished = try await group.next()!
                    group.cancelAll()
                    if !finished { XCTFail("the test ran longer than \(Self.testTimeLimit)") }
                }
            }
        }
    }

    func testLocksAreGrantedInCreateOrderWithGrowingFencingTokens() async throws {
        try await withEtcd { client, _ in
            let first = try await Session.start(client: client, ttl: 10)
            let second = try await Session.start(client: client, ttl: 10)
            let mutexA = DistributedMutex(session: first, name: "locks/one")
            let mutexB = DistributedMutex(session: second, name: "locks/one")
            let held = try await mutexA.lock()
            XCTAssertEqual(held.keyText, "locks/one/" + String(UInt64(bitPattern: first.lease), radix: 16))
            let waiter = Task { try await mutexB.lock() }
            try await Task.sleep(for: .milliseconds(500))
            let owner = try await client.get("locks/one/", prefix: true)
            XCTAssertEqual(owner.kvs.count, 2, "the second waiter queued its key")
            try await mutexA.unlock()
            let next = try await waiter.value
            XCTAssertGreaterThan(next.fencingToken, held.fencingToken, "tokens only grow")
            try await mutexB.unlock()
            try await first.close()
            try await second.close()
        }
    }

    func testAWaiterIsNotGrantedALockWhoseKeyVanishedWhileItWaited() async throws {
        try await withEtcd { client, _ in
            let holder = try await Session.start(client: client, ttl: 10)
            let waiter = try await Session.start(client: client, ttl: 10)
            let held = DistributedMutex(session: holder, name: "jepsen")
            let waiting = DistributedMutex(session: waiter, name: "jepsen")
            _ = try await held.lock()
            let attempt = Task { try await waiting.lock() }
            try await Task.sleep(for: .milliseconds(500))
            // The waiter's lease ends while it waits (as when its process pauses past the TTL).
            _ = try await client.leaseRevoke(id: waiter.lease)
            try await held.unlock()
            do {
                let granted = try await attempt.value
                XCTFail("a lock whose key is gone was granted: \(granted)")
            } catch let error as KeelClientError {
                XCTAssertEqual(error.kind, .lockLost)
            }
            try await holder.close()
        }
    }

    func testAFencedTransactionOfAStaleHolderIsRefused() async throws {
        try await withEtcd { client, _ in
            let stale = try await Session.start(client: client, ttl: 10)
            let fresh = try await Session.start(client: client, ttl: 10)
            let staleMutex = DistributedMutex(session: stale, name: "fence")
            let freshMutex = DistributedMutex(session: fresh, name: "fence")
            _ = try await staleMutex.lock()
            _ = try await client.leaseRevoke(id: stale.lease)  // its lock is gone, but it does not know
            _ = try await freshMutex.lock()
            let late = try await staleMutex.fencedTxn([RequestOp.with { $0.requestPut = .with {
                $0.key = Data("guarded".utf8)
                $0.value = Data("stale".utf8)
            } }])
            XCTAssertFalse(late.applied, "the stale holder's write is refused")
            let current = try await freshMutex.fencedTxn([RequestOp.with { $0.requestPut = .with {
                $0.key = Data("guarded".utf8)
                $0.value = Data("fresh".utf8)
            } }])
            XCTAssertTrue(current.applied)
            let value = try await client.get("guarded")
            XCTAssertEqual(value.kvs.first?.value, Data("fresh".utf8))
            try await freshMutex.unlock()
            try await fresh.close()
        }
    }

    func testASessionReportsItsLeaseLostAndCloseReleasesItsLock() async throws {
        try await withEtcd { client, _ in
            let session = try await Session.start(client: client, ttl: 10)
            _ = try await DistributedMutex(session: session, name: "closing").lock()
            try await session.close()
            let left = try await client.get("closing/", prefix: true)
            XCTAssertEqual(left.kvs.count, 0, "closing revoked the lease and with it the lock's key")
            let closedLost = await session.lost()
            XCTAssertNil(closedLost, "a closed session was not lost")

            let doomed = try await Session.start(client: client, ttl: 10)
            _ = try await client.leaseRevoke(id: doomed.lease)
            let lost = await doomed.lost()
            XCTAssertEqual(lost?.kind, .leaseNotFound)
        }
    }

    func testElectionCampaignObserveProclaimAndResign() async throws {
        try await withEtcd { client, _ in
            let sessionA = try await Session.start(client: client, ttl: 10)
            let sessionB = try await Session.start(client: client, ttl: 10)
            let a = Election(session: sessionA, name: "leader")
            let b = Election(session: sessionB, name: "leader")
            let observer = Task { () -> [String] in
                var seen: [String] = []
                for try await leader in a.observe() {
                    seen.append(String(decoding: leader.value, as: UTF8.self))
                    if seen.count == 3 { break }
                }
                return seen
            }
            try await a.campaign("alpha")
            let campaignB = Task { try await b.campaign("beta") }
            try await Task.sleep(for: .milliseconds(500))
            let leader = try await a.leader()
            XCTAssertEqual(leader.value, Data("alpha".utf8), "the first campaigner leads")
            try await a.proclaim("alpha2")
            try await Task.sleep(for: .milliseconds(200))
            try await a.resign()
            try await campaignB.value
            let next = try await b.leader()
            XCTAssertEqual(next.value, Data("beta".utf8))
            do {
                try await a.proclaim("again")
                XCTFail("a resigned campaigner cannot proclaim")
            } catch let error as KeelClientError {
                XCTAssertEqual(error.kind, .notElectionLeader)
            }
            let seen = try await observer.value
            XCTAssertEqual(seen, ["alpha", "alpha2", "beta"])
            try await b.resign()
            do {
                _ = try await b.leader()
                XCTFail("no one leads")
            } catch let error as KeelClientError {
                XCTAssertEqual(error.kind, .electionNoLeader)
            }
            try await sessionA.close()
            try await sessionB.close()
        }
    }

    func testWatchAgainstEtcdHistoryPrevKVAndCompaction() async throws {
        try await withEtcd { client, _ in
            let first = try await client.put("w/a", "1")
            _ = try await client.put("w/a", "2")
            _ = try await client.deleteRange(DeleteRangeRequest.with { $0.key = Data("w/a".utf8) })
            var seen: [WatchEvent] = []
            for try await response in client.watch("w/", prefix: true, startRevision: first.header.revision, prevKV: true) {
                seen += response.events
                if seen.count >= 3 { break }
            }
            XCTAssertEqual(seen.map(\.type), [.put, .put, .delete])
            XCTAssertEqual(seen[2].prevKv.value, Data("2".utf8))
            let compactAt = first.header.revision + 2
            _ = try await client.compact(CompactionRequest.with { $0.revision = compactAt })
            do {
                for try await _ in client.watch("w/", prefix: true, startRevision: first.header.revision) {
                    XCTFail("no events from a compacted revision")
                }
                XCTFail("the watch must throw")
            } catch let error as KeelClientError {
                XCTAssertEqual(error.kind, .compacted)
                XCTAssertEqual(error.compactRevision, compactAt)
            }
        }
    }

    func testARequestedProgressSaysHowFarAQuietWatchHasSeen() async throws {
        try await withEtcd { client, _ in
            let watch = client.watch("quiet")
            var responses = watch.makeAsyncIterator()
            var last: Int64 = 0
            for value in ["1", "2", "3"] { last = try await client.put("busy", value).header.revision }
            watch.requestProgress()
            let first = try await responses.next()
            let answer = try XCTUnwrap(first)
            XCTAssertEqual(answer.events.count, 0)
            XCTAssertEqual(answer.watchID, -1, "etcd 3.4 answers for every watch of the stream")
            XCTAssertGreaterThanOrEqual(answer.header.revision, last, "the answer comes after the puts it was asked after")
            let put = try await client.put("quiet", "x")
            let after = try await responses.next()
            let next = try XCTUnwrap(after)
            XCTAssertEqual(next.events.map(\.kv.modRevision), [put.header.revision], "events go on after the answer")
        }
    }

    func testAWatchResumesAfterEtcdCrashesAndRestartsWithoutLossOrRepeat() async throws {
        try await withEtcd { client, etcd in
            var options = WatchOptions.prefix(of: Data("r/".utf8))
            options.resumePause = .milliseconds(200)
            options.resumeAttemptsMax = 20
            let stream = client.watch(Data("r/".utf8), options: options)
            let reader = Task { () -> [Int64] in
                var revisions: [Int64] = []
                for try await response in stream {
                    revisions += response.events.map(\.kv.modRevision)
                    if revisions.count >= 4 { break }
                }
                return revisions
            }
            try await Task.sleep(for: .milliseconds(300))
            let first = try await client.put("r/1", "a")
            _ = try await client.put("r/2", "b")
            try await Task.sleep(for: .milliseconds(300))
            try await etcd.crashAndRestart()
            _ = try await client.put("r/3", "c")
            let last = try await client.put("r/4", "d")
            let revisions = try await reader.value
            XCTAssertEqual(revisions, Array(first.header.revision...last.header.revision), "every event once, in order")
        }
    }
}

/// The same client tests against a single kvd (the debug build next to the test bundle): Keel's
/// own server must answer Session, DistributedMutex, Election and watches as etcd does, and refuses
/// the expired waiter on the server side too.
final class ConcurrencyKvdTests: ConcurrencyEtcdTests {
    override class var server: (binary: String, extraArguments: [String]) {
        let kvd = (try? KvctlProcess.locate())?.deletingLastPathComponent().appendingPathComponent("kvd").path ?? "kvd-not-found"
        return (kvd, ["--listen-metrics-urls", ""])
    }

    // Declared again so that Linux's XCTest, which does not run inherited tests, runs them here.
    override func testLocksAreGrantedInCreateOrderWithGrowingFencingTokens() async throws { try await super.testLocksAreGrantedInCreateOrderWithGrowingFencingTokens() }
    override func testAWaiterIsNotGrantedALockWhoseKeyVanishedWhileItWaited() async throws { try await super.testAWaiterIsNotGrantedALockWhoseKeyVanishedWhileItWaited() }
    override func testAFencedTransactionOfAStaleHolderIsRefused() async throws { try await super.testAFencedTransactionOfAStaleHolderIsRefused() }
    override func testASessionReportsItsLeaseLostAndCloseReleasesItsLock() async throws { try await super.testASessionReportsItsLeaseLostAndCloseReleasesItsLock() }
    override func testElectionCampaignObserveProclaimAndResign() async throws { try await super.testElectionCampaignObserveProclaimAndResign() }
    override func testWatchAgainstEtcdHistoryPrevKVAndCompaction() async throws { try await super.testWatchAgainstEtcdHistoryPrevKVAndCompaction() }
    override func testARequestedProgressSaysHowFarAQuietWatchHasSeen() async throws { try await super.testARequestedProgressSaysHowFarAQuietWatchHasSeen() }
    override func testAWatchResumesAfterEtcdCrashesAndRestartsWithoutLossOrRepeat() async throws { try await super.testAWatchResumesAfterEtcdCrashesAndRestartsWithoutLossOrRepeat() }
}
