import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import KeelProto
import Synchronization
import XCTest

/// Watches on real kvd processes over etcd's gRPC Watch stream: history then live changes, the
/// same order on the leader and a follower, a watcher that resumes after the leader is killed,
/// compaction, and ten thousand watchers on one key.
final class WatchProcessTests: ClusterTestCase {
    /// A history of writes on the `w/` keys through the KV API, with what each change must look like
    /// to a watcher (`PUT key=value@revision`, `DEL key@revision`) and each key's previous value.
    struct Model {
        var values: [String: String] = [:]
        var expected: [String] = []
        var expectedPrevious: [String?] = []

        mutating func put(_ key: String, _ value: String, revision: Int64) {
            expected.append("PUT \(key)=\(value)@\(revision)")
            expectedPrevious.append(values[key])
            values[key] = value
        }

        mutating func delete(_ key: String, revision: Int64) {
            guard let previous = values.removeValue(forKey: key) else { return }
            expected.append("DEL \(key)@\(revision)")
            expectedPrevious.append(previous)
        }
    }

    static func describe(_ event: Mvccpb_Event) -> String {
        let key = String(decoding: event.kv.key, as: UTF8.self)
        return event.type == .put ? "PUT \(key)=\(String(decoding: event.kv.value, as: UTF8.self))@\(event.kv.modRevision)" : "DEL \(key)@\(event.kv.modRevision)"
    }

    /// Writes `count` changes starting at step `first`: puts, deletes and two-key transactions.
    static func write(_ kv: Etcdserverpb_KV.Client<HTTP2ClientTransport.Posix>, steps: Range<Int>, into model: inout Model) async throws {
        for step in steps {
            let key = "w/k\(step % 7)"
            if step % 5 == 4 {
                let response = try await kv.deleteRange(.with { $0.key = Data(key.utf8) })
                if response.deleted == 1 { model.delete(key, revision: response.header.revision) }
            } else if step % 11 == 10 {
                let response = try await kv.txn(
                    .with {
                        $0.success = ["w/a", "w/b"].map { name in
                            .with { $0.requestPut = .with { $0.key = Data(name.utf8); $0.value = Data("t\(step)".utf8) } }
                        }
                    })
                model.put("w/a", "t\(step)", revision: response.header.revision)
                model.put("w/b", "t\(step)", revision: response.header.revision)
            } else {
                let response = try await kv.put(.with { $0.key = Data(key.utf8); $0.value = Data("v\(step)".utf8) })
                model.put(key, "v\(step)", revision: response.header.revision)
            }
        }
    }

    func testWatchersFromAnOldRevisionOnTheLeaderAndAFollowerSeeTheWholeHistoryThenLiveChangesInOneOrder() async throws {
        let (cluster, leader) = try startCluster()
        let follower = try XCTUnwrap(cluster.nodes.first { $0 !== leader.node })
        var model = Model()
        try await withClient(port: leader.node.clientPort) { client in
            try await Self.write(Etcdserverpb_KV.Client(wrapping: client), steps: 0..<120, into: &model)
        }
        // From revision 2, the first write: all the history, then the live changes below.
        let create = Etcdserverpb_WatchCreateRequest.with {
            $0.key = Data("w/".utf8)
            $0.rangeEnd = Data("w0".utf8)
            $0.startRevision = 2
            $0.prevKv = true
        }
        let onLeader = WatchRecorder(port: leader.node.clientPort, create: create)
        let onFollower = WatchRecorder(port: follower.clientPort, create: create)
        let watching = [Task { try await onLeader.run() }, Task { try await onFollower.run() }]
        try await withClient(port: leader.node.clientPort) { client in
            try await Self.write(Etcdserverpb_KV.Client(wrapping: client), steps: 120..<240, into: &model)
        }
        let finalRevision = try XCTUnwrap(model.expected.last.flatMap { Int64($0.split(separator: "@").last!) })
        try await onLeader.waitForRevision(finalRevision, seconds: 30)
        try await onFollower.waitForRevision(finalRevision, seconds: 30)
        for task in watching { task.cancel() }
        for recorder in [onLeader, onFollower] {
            let events = recorder.events
            XCTAssertEqual(events.count, model.expected.count)
            XCTAssertEqual(events.map(Self.describe), model.expected)
            XCTAssertEqual(events.map { $0.hasPrevKv ? String(decoding: $0.prevKv.value, as: UTF8.self) : nil }, model.expectedPrevious)
            XCTAssertEqual(recorder.responses.first?.created, true)
        }
    }

    func testACompactedStartRevisionIsCancelledWithTheCompactRevisionAsEtcdDoes() async throws {
        let (_, leader) = try startCluster()
        var model = Model()
        try await withClient(port: leader.node.clientPort) { client in
            let kv = Etcdserverpb_KV.Client(wrapping: client)
            try await Self.write(kv, steps: 0..<20, into: &model)
            _ = try await kv.compact(.with { $0.revision = 10 })
        }
        let old = WatchRecorder(port: leader.node.clientPort, create: .with { $0.key = Data("w/k1".utf8); $0.startRevision = 3 })
        let responses = try await old.runUntilEnd(seconds: 10)
        XCTAssertEqual(responses.count, 2, "\(responses)")
        XCTAssertEqual(responses.first?.created, true)
        XCTAssertEqual(responses.last?.canceled, true)
        XCTAssertEqual(responses.last?.compactRevision, 10)
        XCTAssertEqual(responses.last?.events.count, 0)
    }

    /// The watcher is connected to the leader, which is SIGKILLed while writes go on through the
    /// followers; it reconnects to a follower from its last revision + 1. What it saw in all must be
    /// exactly the history a fresh watcher reads afterwards: nothing missed, nothing twice.
    func testAWatcherThatResumesAfterTheLeaderIsKilledMissesNothingAndRepeatsNothing() async throws {
        let (cluster, leader) = try startCluster()
        let followers = cluster.nodes.filter { $0 !== leader.node }
        let start = try await withClient(port: leader.node.clientPort) { client in
            try await Etcdserverpb_KV.Client(wrapping: client).range(.with { $0.key = Data("r/".utf8) }).header.revision + 1
        }
        let create = Etcdserverpb_WatchCreateRequest.with {
            $0.key = Data("r/".utf8)
            $0.rangeEnd = Data("r0".utf8)
            $0.startRevision = start
        }
        let resuming = WatchRecorder(port: leader.node.clientPort, create: create)
        let firstLife = Task { try? await resuming.run() }
        let followerPorts = followers.map(\.clientPort)
        let writes = Task.detached { [followerPorts] in await WatchProcessTests.writePuts(count: 300, ports: followerPorts) }
        try await resuming.waitForEvents(40, seconds: 30)
        cluster.stop(leader.node, signal: SIGKILL)
        await firstLife.value
        let seenBeforeKill = resuming.events.count
        // Resume on a follower from the revision after the last one received.
        let resumeFrom = (resuming.events.last?.kv.modRevision ?? start - 1) + 1
        let secondLife = WatchRecorder(port: followers[0].clientPort, create: .with {
            $0.key = create.key
            $0.rangeEnd = create.rangeEnd
            $0.startRevision = resumeFrom
        })
        let resumed = Task { try await secondLife.run() }
        let acknowledged = await writes.value
        XCTAssertGreaterThan(acknowledged, 200, "most writes should succeed across one failover")
        let finalRevision = try await withClient(port: followers[0].clientPort) { client in
            try await Etcdserverpb_KV.Client(wrapping: client).range(.with { $0.key = Data("r/".utf8) }).header.revision
        }
        try await secondLife.waitForRevision(finalRevision, seconds: 30)
        resumed.cancel()
        let fresh = WatchRecorder(port: followers[1].clientPort, create: create)
        let freshRun = Task { try await fresh.run() }
        try await fresh.waitForRevision(finalRevision, seconds: 30)
        freshRun.cancel()
        let seen = (resuming.events + secondLife.events).map(Self.describe)
        let history = fresh.events.map(Self.describe)
        XCTAssertGreaterThan(seenBeforeKill, 0)
        XCTAssertGreaterThan(secondLife.events.count, 0)
        XCTAssertEqual(Set(seen).count, seen.count, "an event was delivered twice")
        XCTAssertEqual(seen.count, history.count)
        XCTAssertEqual(seen, history)
        XCTAssertGreaterThanOrEqual(history.count, acknowledged, "every acknowledged write is in the history")
    }

    /// Ten thousand watchers on one key over one stream, on a follower: every one of them sees
    /// every change; the member's resident memory is reported and stays within a bound.
    func testTenThousandWatchersOnOneKeyAllSeeEveryChange() async throws {
        let (cluster, leader) = try startCluster()
        let follower = try XCTUnwrap(cluster.nodes.first { $0 !== leader.node })
        let watchersCount = 10_000
        let changesCount = 10
        let rssBefore = try Self.residentBytes(of: follower)
        let many = ManyWatchers(port: follower.clientPort, key: "hot", count: watchersCount)
        let running = Task { try await many.run() }
        try await many.waitForCreated(seconds: 60)
        // The member reports them (etcd's watcher gauges, under Keel's names).
        let metrics = try LoopbackHTTP.get(port: follower.metricsPort, path: "/metrics").body
        XCTAssertTrue(metrics.contains("keel_watchers 10000"), metrics.split(separator: "\n").filter { $0.contains("watch") }.joined(separator: "\n"))
        XCTAssertTrue(metrics.contains("keel_watch_streams 1"))
        var revisions: [Int64] = []
        try await withClient(port: leader.node.clientPort) { client in
            let kv = Etcdserverpb_KV.Client(wrapping: client)
            for value in 0..<changesCount {
                revisions.append(try await kv.put(.with { $0.key = Data("hot".utf8); $0.value = Data("\(value)".utf8) }).header.revision)
            }
        }
        try await many.waitForEvents(perWatcher: changesCount, seconds: 120)
        let rssAfter = try Self.residentBytes(of: follower)
        running.cancel()
        let seen = many.revisionsByWatcher
        XCTAssertEqual(seen.count, watchersCount)
        XCTAssertTrue(seen.values.allSatisfy { $0 == revisions }, "some watcher saw a different sequence")
        let growthMiB = Double(rssAfter - rssBefore) / 1_048_576
        print("10,000 watchers on one key, \(changesCount) changes: follower RSS \(rssBefore / 1_048_576) -> \(rssAfter / 1_048_576) MiB (+\(String(format: "%.1f", growthMiB)) MiB)")
        XCTAssertLessThan(growthMiB, 512, "ten thousand idle watchers should not cost hundreds of megabytes")
    }

    /// Puts on the `r/` keys through `ports` in turn, each on a fresh connection (a member may die);
    /// returns how many were acknowledged.
    static func writePuts(count: Int, ports: [Int]) async -> Int {
        var acknowledged = 0
        for step in 0..<count {
            let ok = (try? await withClient(port: ports[step % ports.count]) { client in
                _ = try await Etcdserverpb_KV.Client(wrapping: client).put(
                    .with { $0.key = Data("r/\(step % 13)".utf8); $0.value = Data("\(step)".utf8) }, options: Self.shortCall)
            }) != nil
            if ok { acknowledged += 1 }
        }
        return acknowledged
    }

    static let shortCall: CallOptions = {
        var options = CallOptions.defaults
        options.timeout = .seconds(2)
        return options
    }()

    static func residentBytes(of node: ClusterNode) throws -> Int {
        let pid = try XCTUnwrap(node.process?.processIdentifier)
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        let kilobytes = try XCTUnwrap(Int(line.split(separator: " ").dropFirst().first ?? ""))
        return kilobytes * 1024
    }
}

/// Runs `body` with a gRPC client connected to a loopback port.
func withClient<T: Sendable>(port: Int, _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> T) async throws -> T {
    let transport = try HTTP2ClientTransport.Posix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
    return try await withGRPCClient(transport: transport) { client in try await body(client) }
}

/// One watch over one gRPC stream to one member, recording every response until the stream ends
/// or the task running it is cancelled.
final class WatchRecorder: Sendable {
    let port: Int
    let create: Etcdserverpb_WatchCreateRequest
    private let collected = Mutex<[Etcdserverpb_WatchResponse]>([])

    init(port: Int, create: Etcdserverpb_WatchCreateRequest) {
        self.port = port
        self.create = create
    }

    var responses: [Etcdserverpb_WatchResponse] { collected.withLock { $0 } }
    var events: [Mvccpb_Event] { responses.flatMap(\.events) }

    /// Streams until the server ends the stream (or it fails, which is thrown).
    func run() async throws {
        let create = create
        try await withClient(port: port) { client in
            let request = StreamingClientRequest<Etcdserverpb_WatchRequest> { writer in
                try await writer.write(.with { $0.createRequest = create })
                // Keep our side open: etcd ends a stream whose client closed its side.
                try await Task.sleep(for: .seconds(3_600))
            }
            try await Etcdserverpb_Watch.Client(wrapping: client).watch(request: request) { response in
                for try await message in response.messages {
                    self.collected.withLock { $0.append(message) }
                    if message.canceled { return }
                }
            }
        }
    }

    /// Runs until the server cancels the watch or `seconds` pass; returns what arrived.
    func runUntilEnd(seconds: Double) async throws -> [Etcdserverpb_WatchResponse] {
        let task = Task { try await run() }
        let giveUp = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < giveUp, !(responses.last?.canceled ?? false) { try await Task.sleep(for: .milliseconds(20)) }
        task.cancel()
        return responses
    }

    func waitForRevision(_ revision: Int64, seconds: Double) async throws {
        try await wait(seconds: seconds, "an event at revision \(revision)") { ($0.last?.kv.modRevision ?? 0) >= revision }
    }

    func waitForEvents(_ count: Int, seconds: Double) async throws {
        try await wait(seconds: seconds, "\(count) events") { $0.count >= count }
    }

    private func wait(seconds: Double, _ what: String, until done: ([Mvccpb_Event]) -> Bool) async throws {
        let giveUp = ContinuousClock.now + .seconds(seconds)
        while !done(events) {
            guard ContinuousClock.now < giveUp else {
                throw ClusterTestError("watch on port \(port): no \(what) after \(seconds) s; got \(events.count) events, last at \(events.last?.kv.modRevision ?? 0)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// Many watchers on one key over one stream.
final class ManyWatchers: Sendable {
    let port: Int
    let key: String
    let count: Int
    private let state = Mutex<(created: Int, revisions: [Int64: [Int64]])>((0, [:]))

    init(port: Int, key: String, count: Int) {
        self.port = port
        self.key = key
        self.count = count
    }

    var revisionsByWatcher: [Int64: [Int64]] { state.withLock { $0.revisions } }

    func run() async throws {
        let (key, count) = (key, count)
        try await withClient(port: port) { client in
            let request = StreamingClientRequest<Etcdserverpb_WatchRequest> { writer in
                for _ in 0..<count { try await writer.write(.with { $0.createRequest = .with { $0.key = Data(key.utf8) } }) }
                try await Task.sleep(for: .seconds(3_600))
            }
            try await Etcdserverpb_Watch.Client(wrapping: client).watch(request: request) { response in
                for try await message in response.messages {
                    self.state.withLock { state in
                        if message.created { state.created += 1 }
                        if !message.events.isEmpty { state.revisions[message.watchID, default: []] += message.events.map(\.kv.modRevision) }
                    }
                }
            }
        }
    }

    func waitForCreated(seconds: Double) async throws {
        try await wait(seconds: seconds, "\(count) watchers created") { $0.created >= self.count }
    }

    func waitForEvents(perWatcher: Int, seconds: Double) async throws {
        try await wait(seconds: seconds, "\(perWatcher) events on each watcher") { state in
            state.revisions.count >= self.count && state.revisions.values.allSatisfy { $0.count >= perWatcher }
        }
    }

    private func wait(seconds: Double, _ what: String, until done: ((created: Int, revisions: [Int64: [Int64]])) -> Bool) async throws {
        let giveUp = ContinuousClock.now + .seconds(seconds)
        while !state.withLock({ done($0) }) {
            guard ContinuousClock.now < giveUp else {
                let (created, watchers) = state.withLock { ($0.created, $0.revisions.count) }
                throw ClusterTestError("no \(what) after \(seconds) s: \(created) created, \(watchers) with events")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
