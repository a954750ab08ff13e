import Foundation
import GRPCCore
@testable import KeelClient
import KeelProto
import XCTest

/// The client's watch against an in-test Watch service: history and live events, filters, joined
/// fragments, resumption without loss or repeats, the compacted error, the resume budget and
/// cancellation; and the bounded hand-off it delivers through.
final class WatchClientTests: XCTestCase {
    func configuration(_ ports: [Int], dial: Duration = .seconds(2)) -> KeelClientConfiguration {
        KeelClientConfiguration(endpoints: ports.map { Endpoint(host: "127.0.0.1", port: $0) }, dialTimeout: dial)
    }

    /// Reads `count` events (across responses) from `stream`, failing after `limit`.
    static func events(_ count: Int, from stream: WatchStream, within limit: Duration = .seconds(10)) async throws -> [WatchEvent] {
        try await withThrowingTaskGroup(of: [WatchEvent]?.self) { group in
            group.addTask {
                var collected: [WatchEvent] = []
                for try await response in stream {
                    collected += response.events
                    if collected.count >= count { return collected }
                }
                return collected
            }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            guard let collected = first else { throw TestSetupError("no \(count) events within \(limit)") }
            return collected
        }
    }

    func testDeliversHistoryFromTheStartRevisionThenNewEventsWithPrevKV() async throws {
        let fake = FakeWatch()
        fake.put("a/1", "one")  // 2
        fake.put("b", "other")  // 3
        fake.put("a/1", "uno")  // 4
        try await withFakeServers([fake]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                let stream = client.watch("a/", prefix: true, startRevision: 2, prevKV: true)
                let reader = Task { try await Self.events(3, from: stream) }
                try await Task.sleep(for: .milliseconds(100))
                fake.delete("a/1")  // 5
                let seen = try await reader.value
                XCTAssertEqual(seen.map(\.kv.modRevision), [2, 4, 5], "b is outside the prefix")
                XCTAssertEqual(seen.map(\.type), [.put, .put, .delete])
                XCTAssertEqual(seen[1].prevKv.value, Data("one".utf8), "prevKV was asked for")
                XCTAssertEqual(seen[2].prevKv.value, Data("uno".utf8))
            }
        }
        let create = try XCTUnwrap(fake.createRequests.first)
        XCTAssertEqual(create.key, Data("a/".utf8))
        XCTAssertEqual(create.rangeEnd, Data("a0".utf8))
        XCTAssertEqual(create.startRevision, 2)
        XCTAssertTrue(create.prevKv)
    }

    func testFiltersAreSentAndApplied() async throws {
        let fake = FakeWatch()
        fake.put("k", "v")  // 2
        fake.delete("k")  // 3
        fake.put("k", "w")  // 4
        try await withFakeServers([fake]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                var options = WatchOptions()
                options.startRevision = 2
                options.noPut = true
                let seen = try await Self.events(1, from: client.watch(Data("k".utf8), options: options))
                XCTAssertEqual(seen.map(\.kv.modRevision), [3])
            }
        }
        XCTAssertEqual(fake.createRequests.first?.filters, [.noput])
    }

    func testFragmentsAreJoinedIntoOneResponse() async throws {
        let fake = FakeWatch(eventsPerFragment: 2, batch: 5)
        for index in 0..<5 { fake.put("k", "\(index)") }  // 2...6
        try await withFakeServers([fake]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                var options = WatchOptions()
                options.startRevision = 2
                options.fragment = true
                var iterator = client.watch(Data("k".utf8), options: options).makeAsyncIterator()
                let response = try await XCTUnwrapAsync(try await iterator.next())
                XCTAssertEqual(response.events.map(\.kv.modRevision), [2, 3, 4, 5, 6], "three fragments, one response")
                XCTAssertFalse(response.fragment)
            }
        }
        XCTAssertEqual(fake.createRequests.first?.fragment, true)
    }

    func testResumesOnTheNextEndpointAfterTheLastDeliveredRevisionWithoutLossOrRepeat() async throws {
        // Every stream breaks after two events, three times: the shared history is served by two endpoints.
        let fake = FakeWatch(breakAfterEvents: 2, breaks: 3)
        for index in 0..<8 { fake.put("k", "\(index)") }  // 2...9
        try await withFakeServers([fake, fake]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                var options = WatchOptions()
                options.startRevision = 2
                options.resumePause = .milliseconds(10)
                let seen = try await Self.events(8, from: client.watch(Data("k".utf8), options: options))
                XCTAssertEqual(seen.map(\.kv.modRevision), Array(2...9), "each event once, in order")
            }
        }
        XCTAssertEqual(fake.createRequests.map(\.startRevision), [2, 4, 6, 8], "each new stream starts after the last event")
    }

    func testAProgressRequestTheStreamDidNotAnswerIsAskedAgainOnTheNextStream() async throws {
        let fake = FakeWatch(progressBreaks: 1)
        try await withFakeServers([fake, fake]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                var options = WatchOptions()
                options.resumePause = .milliseconds(10)
                let watch = client.watch(Data("k".utf8), options: options)
                let top = fake.put("other", "1")
                watch.requestProgress()
                let answer = try await withThrowingTaskGroup(of: WatchResponse?.self) { group in
                    group.addTask {
                        var responses = watch.makeAsyncIterator()
                        return try await responses.next()
                    }
                    group.addTask {
                        try await Task.sleep(for: .seconds(10))
                        return nil
                    }
                    defer { group.cancelAll() }
                    return try await group.next()!
                }
                let response = try XCTUnwrap(answer, "no answer to the progress request within 10 s")
                XCTAssertEqual(response.watchID, -1)
                XCTAssertEqual(response.events.count, 0)
                XCTAssertEqual(response.header.revision, top)
            }
        }
        XCTAssertEqual(fake.progressRequests, 2, "asked on the broken stream, then again on the next")
        XCTAssertEqual(fake.createRequests.count, 2)
    }

    func testAWatchFromNowResumesAfterTheRevisionItWasCreatedAt() async throws {
        let fake = FakeWatch(breakAfterEvents: 1, breaks: 1)
        fake.put("k", "old")  // 2: before the watch
        try await withFakeServers([fake]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                var options = WatchOptions()
                options.resumePause = .milliseconds(10)
                let stream = client.watch(Data("k".utf8), options: options)
                let reader = Task { try await Self.events(2, from: stream) }
                while fake.createRequests.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
                try await Task.sleep(for: .milliseconds(50))
                fake.put("k", "new1")  // 3
                fake.put("k", "new2")  // 4
                let seen = try await reader.value
                XCTAssertEqual(seen.map(\.kv.modRevision), [3, 4])
            }
        }
        XCTAssertEqual(fake.createRequests.map(\.startRevision), [0, 4])
    }

    func testACompactedStartRevisionEndsTheSequenceWithATypedError() async throws {
        let fake = FakeWatch()
        for index in 0..<4 { fake.put("k", "\(index)") }
        fake.compact(4)
        try await withFakeServers([fake]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                var options = WatchOptions()
                options.startRevision = 2
                do {
                    for try await _ in client.watch(Data("k".utf8), options: options) {
                        XCTFail("no event of a compacted revision")
                    }
                    XCTFail("the sequence must throw")
                } catch let error as KeelClientError {
                    XCTAssertEqual(error.kind, .compacted)
                    XCTAssertEqual(error.compactRevision, 4)
                    XCTAssertEqual(error.message, "etcdserver: mvcc: required revision has been compacted")
                }
            }
        }
        XCTAssertEqual(fake.createRequests.count, 1, "a compacted watch is not resumed")
    }

    func testGivesUpAfterTheResumeBudget() async throws {
        let dead = [try closedPort(), try closedPort()]
        try await KeelClient.withClient(configuration(dead, dial: .milliseconds(300))) { client in
            var options = WatchOptions()
            options.resumeAttemptsMax = 3
            options.resumePause = .milliseconds(10)
            let clock = ContinuousClock()
            let start = clock.now
            do {
                for try await _ in client.watch(Data("k".utf8), options: options) { XCTFail("nothing to watch") }
                XCTFail("the sequence must throw once the budget is spent")
            } catch let error as KeelClientError {
                XCTAssertEqual(error.kind, .unavailable)
                XCTAssertTrue(error.message.hasPrefix("watch not resumed after 3 attempts"), error.message)
            }
            XCTAssertLessThan(start.duration(to: clock.now), .seconds(5))
        }
    }

    func testCancellingTheReaderClosesTheStream() async throws {
        let fake = FakeWatch()
        try await withFakeServers([fake]) { ports in
            try await KeelClient.withClient(configuration(ports)) { client in
                let stream = client.watch("k")
                let reader = Task {
                    for try await _ in stream {}
                }
                let opened = try await eventually { fake.openStreams == 1 }
                XCTAssertTrue(opened, "the watch opened a stream")
                reader.cancel()
                _ = try? await reader.value
                let closed = try await eventually { fake.openStreams == 0 }
                XCTAssertTrue(closed, "cancelling the reader closed the stream")
            }
        }
    }

    func testASlowReaderHoldsTheProducerAtTheChannelsCapacity() async throws {
        let channel = BoundedChannel<Int>(capacity: 3)
        let sent = ManagedCounter()
        let producer = Task {
            for value in 0..<100 {
                guard await channel.send(value) else { return }
                sent.increment()
            }
            channel.finish()
        }
        try await Task.sleep(for: .milliseconds(100))
        XCTAssertEqual(sent.value, 3, "the producer waits once the buffer is full")
        let first = try await channel.next()
        XCTAssertEqual(first, 0)
        let moved = try await eventually { sent.value == 4 }
        XCTAssertTrue(moved, "one taken, one more sent")
        channel.cancel()
        await producer.value
        XCTAssertEqual(sent.value, 4, "a cancelled channel stops the producer")
    }

    func testTheChannelDeliversBufferedElementsBeforeTheError() async throws {
        let channel = BoundedChannel<Int>(capacity: 4)
        _ = await channel.send(1)
        _ = await channel.send(2)
        channel.finish(throwing: TestSetupError("end"))
        let first = try await channel.next()
        let second = try await channel.next()
        XCTAssertEqual([first, second], [1, 2])
        do {
            _ = try await channel.next()
            XCTFail("the error comes after the elements")
        } catch is TestSetupError {}
    }

    func testKindsOfEtcdErrorsAreSwitchable() {
        func kind(_ code: RPCError.Code, _ message: String) -> KeelClientError.Kind {
            KeelClientError(code: code, message: message).kind
        }
        XCTAssertEqual(kind(.outOfRange, "etcdserver: mvcc: required revision has been compacted"), .compacted)
        XCTAssertEqual(kind(.notFound, "etcdserver: requested lease not found"), .leaseNotFound)
        XCTAssertEqual(kind(.unavailable, "etcdserver: no leader"), .noLeader)
        XCTAssertEqual(kind(.resourceExhausted, "etcdserver: too many requests"), .tooManyRequests)
        XCTAssertEqual(kind(.invalidArgument, "etcdserver: request is too large"), .requestTooLarge)
        XCTAssertEqual(kind(.resourceExhausted, "trying to send message larger than max (3 vs. 2)"), .requestTooLarge)
        XCTAssertEqual(kind(.unavailable, "etcdserver: request timed out"), .unknownOutcome)
        XCTAssertEqual(
            kind(.unavailable, "etcdserver: request timed out, possibly due to previous leader failure"), .unknownOutcome)
        XCTAssertEqual(kind(.unavailable, "etcdserver: leader changed"), .leaderChanged)
        XCTAssertEqual(kind(.deadlineExceeded, "context deadline exceeded"), .deadlineExceeded)
        XCTAssertEqual(kind(.unavailable, "connection refused"), .unavailable)
        XCTAssertEqual(kind(.invalidArgument, "etcdserver: key is not provided"), .other)
        let error = KeelClientError(code: .unavailable, message: "etcdserver: no leader")
        switch error.kind {
        case .noLeader: break
        default: XCTFail("a switch tells the kind")
        }
    }
}

/// A counter shared between a test and a task it starts.
final class ManagedCounter: @unchecked Sendable {
    // @unchecked Sendable: `count` is only touched with `lock` held.
    private let lock = NSLock()
    private var count = 0

    func increment() {
        lock.lock()
        count += 1
        lock.unlock()
    }

    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }

    /// Takes one off, if the count is above zero.
    func take() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard count > 0 else { return false }
        count -= 1
        return true
    }
}

/// Polls `condition` until it holds or `limit` passes; returns whether it held.
func eventually(within limit: Duration = .seconds(5), _ condition: () -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now.advanced(by: limit)
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// `XCTUnwrap` for an optional computed before the call.
func XCTUnwrapAsync<T>(_ value: T?, file: StaticString = #filePath, line: UInt = #line) async throws -> T {
    try XCTUnwrap(value, file: file, line: line)
}
