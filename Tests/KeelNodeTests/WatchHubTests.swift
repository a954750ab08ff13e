import Foundation
import KeelStorage
import Raft
import RaftSimulation
import XCTest

@testable import KeelNode

/// The watch hub over a real RocksDB state machine: every watcher sees each change on its keys
/// exactly once, in revision order, with no gap, however it starts and however slowly it reads;
/// a slow reader never holds more than the pending limit.
final class WatchHubTests: XCTestCase {
    var directory: String!
    var storage: NodeStorage!
    var hub: WatchHub!
    var index: UInt64 = 0

    func open(limits: WatchLimits = WatchLimits()) throws {
        directory = NSTemporaryDirectory() + "keel-watch-\(UUID().uuidString)"
        storage = try NodeStorage(directory: directory)
        let machine = storage.stateMachine
        hub = WatchHub(revision: machine.revision, compactedRevision: machine.compactedRevision, limits: limits)
        machine.observer = hub
    }

    override func tearDown() {
        storage = nil
        hub = nil
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
        super.tearDown()
    }

    @discardableResult
    func apply(_ command: KVCommand) throws -> KVResponse {
        index += 1
        return try storage.stateMachine.apply(index: LogIndex(index), entryData: command.encoded())!.get()
    }

    func put(_ key: String, _ value: String) throws { try apply(.put(PutRequest(key: Array(key.utf8), value: Array(value.utf8)))) }
    func delete(_ key: String, prefix: Bool = false) throws {
        let bytes = Array(key.utf8)
        try apply(.deleteRange(DeleteRangeRequest(key: bytes, rangeEnd: prefix ? KeyRange.prefixEnd(bytes) : [])))
    }

    /// Drains `stream` until nothing is owed, running its catch-ups as the node would (here, on
    /// the applying thread itself).
    func drainAll(_ stream: WatchStream) -> [WatchOutput] {
        var all: [WatchOutput] = []
        while let (outputs, catchUps) = stream.drain(), !(outputs.isEmpty && catchUps.isEmpty) {
            all += outputs
            for job in catchUps { hub.catchUp(job, from: storage.stateMachine) }
        }
        return all
    }

    static func events(_ outputs: [WatchOutput], id: Int64) -> [KVEvent] {
        outputs.flatMap { output -> [KVEvent] in
            if case .events(id, _, let events) = output { return events }
            return []
        }
    }

    static func describe(_ events: [KVEvent]) -> [String] {
        events.map { "\($0.kind == .put ? "PUT" : "DEL") \(String(decoding: $0.kv.key, as: UTF8.self))=\(String(decoding: $0.kv.value, as: UTF8.self))@\($0.revision)" }
    }

    func testASyncedWatcherSeesEachChangeOnItsKeysOnceInOrderWithFilters() throws {
        try open()
        let stream = try hub.openStream()
        let exact = try XCTUnwrap(stream.create(WatchSpec(key: Array("a".utf8))))
        let prefix = try XCTUnwrap(stream.create(WatchSpec(key: Array("b".utf8), rangeEnd: Array("c".utf8), prevKv: true)))
        let onlyDeletes = try XCTUnwrap(stream.create(WatchSpec(key: Array("b".utf8), rangeEnd: Array("c".utf8), skipPuts: true)))
        XCTAssertEqual(Set([exact, prefix, onlyDeletes]).count, 3)
        let created = drainAll(stream)
        XCTAssertEqual(created, [.created(id: exact, revision: 1), .created(id: prefix, revision: 1), .created(id: onlyDeletes, revision: 1)])

        try put("a", "1")  // 2
        try put("b1", "x")  // 3
        try put("ab", "no")  // 4: matches neither
        try put("b1", "y")  // 5
        try apply(.txn(TxnRequest(success: [.put(PutRequest(key: Array("b2".utf8), value: Array("z".utf8))), .put(PutRequest(key: Array("a".utf8), value: Array("2".utf8)))])))  // 6
        try delete("b", prefix: true)  // 7: b1, b2
        let outputs = drainAll(stream)
        XCTAssertEqual(Self.describe(Self.events(outputs, id: exact)), ["PUT a=1@2", "PUT a=2@6"])
        XCTAssertEqual(
            Self.describe(Self.events(outputs, id: prefix)), ["PUT b1=x@3", "PUT b1=y@5", "PUT b2=z@6", "DEL b1=@7", "DEL b2=@7"])
        XCTAssertEqual(Self.describe(Self.events(outputs, id: onlyDeletes)), ["DEL b1=@7", "DEL b2=@7"])
        // prev_kv only where asked: the overwrite and the deletes carry the state before them.
        let withPrevious = Self.events(outputs, id: prefix)
        XCTAssertEqual(withPrevious.map { $0.prevKv.map { String(decoding: $0.value, as: UTF8.self) } }, [nil, "x", nil, "y", "z"])
        XCTAssertTrue(Self.events(outputs, id: onlyDeletes).allSatisfy { $0.prevKv == nil })
        XCTAssertTrue(Self.events(outputs, id: exact).allSatisfy { $0.prevKv == nil })
        // A deletion is reported as etcd reports it: the key and the revision, nothing else.
        XCTAssertEqual(withPrevious[3].kv, KeyValue(key: Array("b1".utf8), createRevision: 0, modRevision: 7, version: 0, value: [], lease: 0))
        XCTAssertEqual(drainAll(stream), [])
    }

    func testAWatcherFromAnOldRevisionGetsTheHistoryThenLiveChangesWithPrevious() throws {
        try open()
        for value in 1...5 { try put("k", "\(value)") }  // revisions 2...6
        try delete("k")  // 7
        let stream = try hub.openStream()
        let id = try XCTUnwrap(stream.create(WatchSpec(key: Array("k".utf8), startRevision: 3, prevKv: true)))
        var outputs = drainAll(stream)
        try put("k", "again")  // 8
        outputs += drainAll(stream)
        let events = Self.events(outputs, id: id)
        XCTAssertEqual(Self.describe(events), ["PUT k=2@3", "PUT k=3@4", "PUT k=4@5", "PUT k=5@6", "DEL k=@7", "PUT k=again@8"])
        XCTAssertEqual(events.map { $0.prevKv.map { String(decoding: $0.value, as: UTF8.self) } }, ["1", "2", "3", "4", "5", nil])
        XCTAssertEqual(outputs.first, .created(id: id, revision: 7))
    }

    func testAStartRevisionInTheFutureSkipsChangesBeforeIt() throws {
        try open()
        let stream = try hub.openStream()
        let id = try XCTUnwrap(stream.create(WatchSpec(key: Array("k".utf8), startRevision: 4)))
        for value in 1...4 { try put("k", "\(value)") }  // 2...5
        XCTAssertEqual(Self.describe(Self.events(drainAll(stream), id: id)), ["PUT k=3@4", "PUT k=4@5"])
    }

    /// A client that does not read: the watcher holds at most the pending limit, falls behind, and
    /// once drained reads history back, with no event lost or repeated, even while writes go on.
    func testASlowWatcherNeverHoldsMoreThanTheLimitAndCatchesUpWithoutGapOrRepeat() throws {
        for seed in UInt64(1)...12 {
            try slowWatcher(seed: seed)
            storage = nil
            try? FileManager.default.removeItem(atPath: directory)
            index = 0
        }
        XCTAssertGreaterThan(hub.catchUpsRun, 3, "the watcher should have fallen behind and read history several times")
    }

    func slowWatcher(seed: UInt64) throws {
        var limits = WatchLimits()
        limits.pendingEventsMax = 8
        limits.catchUpEventsMax = 5
        limits.catchUpScannedMax = 7
        try open(limits: limits)
        let stream = try hub.openStream()
        let id = try XCTUnwrap(stream.create(WatchSpec(key: Array("k".utf8), rangeEnd: Array("l".utf8))))
        var outputs: [WatchOutput] = []
        var wanted: [String] = []
        var generator = SimRandom(seed: seed)
        for step in 0..<400 {
            let key = "k\(step % 13)"
            try put(key, "\(step)")
            wanted.append("PUT \(key)=\(step)@\(storage.stateMachine.revision)")
            // Writes no watcher wants, a random number of them, so catch-ups stop at varied places.
            for other in 0..<Int.random(in: 0...3, using: &generator) { try put("other\(step).\(other)", "x") }
            // Between writes, the client sometimes reads a little: one drain step.
            if Int.random(in: 0..<4, using: &generator) == 0, let (batch, catchUps) = stream.drain() {
                outputs += batch
                for job in catchUps { hub.catchUp(job, from: storage.stateMachine) }
            }
            let held = hub.pendingCount(stream: stream.id, watch: id)
            XCTAssertLessThanOrEqual(held, limits.pendingEventsMax, "seed \(seed) step \(step)")
        }
        outputs += drainAll(stream)
        let seen = Self.describe(Self.events(outputs, id: id))
        XCTAssertEqual(seen.count, wanted.count, "seed \(seed)")
        let firstDifference = seen.indices.first { $0 < wanted.count && seen[$0] != wanted[$0] }
        XCTAssertNil(firstDifference, "seed \(seed): first difference at \(firstDifference ?? -1): \(firstDifference.map { (seen[$0], wanted[$0]) }.debugDescription)")
    }

    /// A history read that stops one revision short of the head (its event limit reached) leaves
    /// the watcher behind for one more read: rejoining the synced group there would skip the head.
    func testAHistoryReadThatStopsJustShortOfTheHeadReadsAgain() throws {
        var limits = WatchLimits()
        limits.catchUpEventsMax = 5
        try open(limits: limits)
        for value in 1...6 { try put("k", "\(value)") }  // revisions 2...7
        let stream = try hub.openStream()
        let id = try XCTUnwrap(stream.create(WatchSpec(key: Array("k".utf8), startRevision: 2)))
        // The first read returns revisions 2...6 and stops before 7, the head.
        XCTAssertEqual(
            Self.describe(Self.events(drainAll(stream), id: id)), ["PUT k=1@2", "PUT k=2@3", "PUT k=3@4", "PUT k=4@5", "PUT k=5@6", "PUT k=6@7"])
        XCTAssertEqual(hub.catchUpsRun, 2)
    }

    func testACompactedStartRevisionIsCancelledWithTheCompactRevision() throws {
        try open()
        for value in 1...5 { try put("k", "\(value)") }  // 2...6
        try apply(.compact(revision: 5))
        let stream = try hub.openStream()
        let id = try XCTUnwrap(stream.create(WatchSpec(key: Array("k".utf8), startRevision: 3)))
        let outputs = drainAll(stream)
        XCTAssertEqual(outputs, [.created(id: id, revision: 6), .canceled(id: id, revision: 6, compactRevision: 5, reason: "")])
        // The watcher is gone: later changes are not reported to it.
        try put("k", "later")
        XCTAssertEqual(drainAll(stream), [])
        XCTAssertEqual(hub.watcherCount, 0)
        // At the compacted revision itself history is still there.
        let kept = try XCTUnwrap(stream.create(WatchSpec(key: Array("k".utf8), startRevision: 5)))
        XCTAssertEqual(Self.describe(Self.events(drainAll(stream), id: kept)), ["PUT k=4@5", "PUT k=5@6", "PUT k=later@7"])
    }

    /// An idle watcher's last event can be far behind; when compaction removes that history, a
    /// client that resumed there would be refused. So compaction tells every progress watcher the
    /// revision it has seen through, a resume point compaction has not removed.
    func testCompactionTellsIdleProgressWatchersWhereToResume() throws {
        try open()
        let stream = try hub.openStream()
        let idle = try XCTUnwrap(stream.create(WatchSpec(key: Array("idle".utf8), progressNotify: true)))
        let quiet = try XCTUnwrap(stream.create(WatchSpec(key: Array("quiet".utf8))))
        XCTAssertEqual(drainAll(stream), [.created(id: idle, revision: 1), .created(id: quiet, revision: 1)])
        for value in ["1", "2", "3"] { try put("busy", value) }
        XCTAssertEqual(drainAll(stream), [], "no event on the watched keys, no progress asked for")
        try apply(.compact(revision: 3))
        XCTAssertEqual(drainAll(stream), [.progress(id: idle, revision: 4)])
        // Resuming after the notified revision is served; after the idle watcher's creation, not.
        let resumed = try XCTUnwrap(stream.create(WatchSpec(key: Array("idle".utf8), startRevision: 5)))
        let stale = try XCTUnwrap(stream.create(WatchSpec(key: Array("idle".utf8), startRevision: 2)))
        XCTAssertEqual(
            drainAll(stream),
            [.created(id: resumed, revision: 4), .created(id: stale, revision: 4), .canceled(id: stale, revision: 4, compactRevision: 3, reason: "")])
    }

    func testCancelRefusalsAndProgress() throws {
        var limits = WatchLimits()
        limits.watchersPerStreamMax = 2
        try open(limits: limits)
        let stream = try hub.openStream()
        XCTAssertEqual(stream.create(WatchSpec(key: Array("a".utf8), chosenID: 7)), 7)
        XCTAssertNil(stream.create(WatchSpec(key: Array("a".utf8), chosenID: 7)))
        XCTAssertNil(stream.create(WatchSpec(key: Array("b".utf8), rangeEnd: Array("a".utf8))))
        let second = try XCTUnwrap(stream.create(WatchSpec(key: Array("b".utf8), progressNotify: true)))
        XCTAssertNil(stream.create(WatchSpec(key: Array("c".utf8))))
        XCTAssertEqual(
            drainAll(stream),
            [
                .created(id: 7, revision: 1),
                .refused(id: -1, revision: 1, reason: "mvcc: duplicate watch ID provided on the WatchStream"),
                .refused(id: -1, revision: 1, reason: "mvcc: watcher range is empty"),
                .created(id: second, revision: 1),
                .refused(id: -1, revision: 1, reason: "etcdserver: too many watchers (at most 2)"),
            ])
        try put("a", "1")
        stream.requestProgress()
        stream.notifyProgress()
        // Each watcher's progress after its own events; the stream's answer after everything.
        let outputs = drainAll(stream)
        XCTAssertEqual(outputs.count, 3)
        XCTAssertEqual(Self.describe(Self.events(outputs, id: 7)), ["PUT a=1@2"])
        XCTAssertTrue(outputs.contains(.progress(id: second, revision: 2)))
        XCTAssertEqual(outputs.last, .progress(id: -1, revision: 2))
        stream.cancel(7)
        stream.cancel(99)  // unknown: ignored, as etcd does
        try put("a", "2")
        XCTAssertEqual(drainAll(stream), [.canceled(id: 7, revision: 2, compactRevision: 0, reason: "")])
        stream.close()
        XCTAssertNil(stream.drain())
        XCTAssertEqual(hub.watcherCount, 0)
    }

    /// A leader's snapshot replaces the state: watchers read the changes it brought from storage.
    func testAfterTheStateIsReplacedWatchersReadTheGapFromStorage() throws {
        try open()
        let stream = try hub.openStream()
        let id = try XCTUnwrap(stream.create(WatchSpec(key: Array("k".utf8))))
        _ = drainAll(stream)
        // Changes the hub is not told of one by one, as when a snapshot is installed.
        storage.stateMachine.observer = nil
        try put("k", "1")
        try put("k", "2")
        storage.stateMachine.observer = hub
        hub.stateReplaced(revision: storage.stateMachine.revision, compactedRevision: 0)
        try put("k", "3")
        XCTAssertEqual(Self.describe(Self.events(drainAll(stream), id: id)), ["PUT k=1@2", "PUT k=2@3", "PUT k=3@4"])
    }
}
