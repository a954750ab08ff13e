import Foundation
import GRPCCore
import KeelProto

/// A Watch service for the client tests over an in-memory history that the test appends to: it
/// answers a create request as etcd 3.4 does (a `created` response with the current revision in
/// the header; for a compacted start revision then a `canceled` response carrying
/// `compact_revision`), sends the history from the start revision and then new events, and can
/// break streams, split responses into fragments and record what the client asked for.
final class FakeWatch: Etcdserverpb_Watch.SimpleServiceProtocol, @unchecked Sendable {
    // @unchecked Sendable: every mutable field is only touched with `lock` held.

    let memberID: UInt64
    /// Streams fail with Unavailable after sending this many events, this many times; then none fails.
    let breakAfterEvents: Int
    private let lock = NSLock()
    private var history: [Mvccpb_Event] = []
    private var revision: Int64 = 1
    private var compacted: Int64 = 0
    private var breaksLeft: Int
    private var creates: [Etcdserverpb_WatchCreateRequest] = []
    private var streams = 0
    /// Events per response; a response with more is sent in fragments when the client allows them.
    private let eventsPerFragment: Int
    /// Events sent together in one response when they are available at once.
    private let batch: Int
    /// Streams that fail on a progress request instead of answering it, before one answers.
    private var progressBreaksLeft: Int
    private var progressRequestsSeen = 0

    init(
        memberID: UInt64 = 1, breakAfterEvents: Int = 0, breaks: Int = 0, eventsPerFragment: Int = .max, batch: Int = 1,
        progressBreaks: Int = 0
    ) {
        self.progressBreaksLeft = progressBreaks
        self.memberID = memberID
        self.breakAfterEvents = breakAfterEvents
        self.breaksLeft = breaks
        self.eventsPerFragment = eventsPerFragment
        self.batch = batch
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    // MARK: test controls and observations

    /// Writes a key at the next revision.
    @discardableResult
    func put(_ key: String, _ value: String) -> Int64 {
        locked {
            revision += 1
            var event = Mvccpb_Event()
            event.type = .put
            let previous = history.last { $0.kv.key == Data(key.utf8) && $0.type == .put }
            event.kv.key = Data(key.utf8)
            event.kv.value = Data(value.utf8)
            event.kv.modRevision = revision
            event.kv.createRevision = previous?.kv.createRevision ?? revision
            event.kv.version = (previous?.kv.version ?? 0) + 1
            if let previous { event.prevKv = previous.kv }
            history.append(event)
            return revision
        }
    }

    /// Deletes a key at the next revision.
    func delete(_ key: String) {
        locked {
            revision += 1
            var event = Mvccpb_Event()
            event.type = .delete
            event.kv.key = Data(key.utf8)
            event.kv.modRevision = revision
            if let previous = history.last(where: { $0.kv.key == Data(key.utf8) && $0.type == .put }) {
                event.prevKv = previous.kv
            }
            history.append(event)
        }
    }

    /// Compacts the history up to `revision`.
    func compact(_ revision: Int64) { locked { compacted = revision } }

    /// Every create request received, in order.
    var createRequests: [Etcdserverpb_WatchCreateRequest] { locked { creates } }
    /// How many progress requests arrived, over all streams.
    var progressRequests: Int { locked { progressRequestsSeen } }
    /// How many watch streams are open now.
    var openStreams: Int { locked { streams } }

    // MARK: the service

    private func header() -> Etcdserverpb_ResponseHeader {
        var header = Etcdserverpb_ResponseHeader()
        header.clusterID = 7
        header.memberID = memberID
        header.revision = revision
        header.raftTerm = 2
        return header
    }

    private func matches(_ event: Mvccpb_Event, _ create: Etcdserverpb_WatchCreateRequest) -> Bool {
        let key = event.kv.key
        let inRange =
            create.rangeEnd.isEmpty
            ? key == create.key
            : (key.lexicographicallyPrecedes(create.key) == false
                && (create.rangeEnd == Data([0]) || key.lexicographicallyPrecedes(create.rangeEnd)))
        guard inRange else { return false }
        if event.type == .put && create.filters.contains(.noput) { return false }
        if event.type == .delete && create.filters.contains(.nodelete) { return false }
        return true
    }

    func watch(
        request: RPCAsyncSequence<Etcdserverpb_WatchRequest, any Error>,
        response: RPCWriter<Etcdserverpb_WatchResponse>,
        context: ServerContext
    ) async throws {
        locked { streams += 1 }
        defer { locked { streams -= 1 } }
        // nonisolated(unsafe): read here, then only by the one child task below, never at once.
        nonisolated(unsafe) var requests = request.makeAsyncIterator()
        guard let first = try await requests.next(), case .createRequest(let create) = first.requestUnion else { return }
        let (created, compactedAt, current) = locked { () -> (Etcdserverpb_WatchResponse, Int64, Int64) in
            creates.append(create)
            var created = Etcdserverpb_WatchResponse()
            created.header = header()
            created.created = true
            return (created, compacted, revision)
        }
        try await response.write(created)
        if create.startRevision > 0 && create.startRevision < compactedAt {
            // etcd 3.4: no header revision, no reason, the compaction's revision.
            var canceled = Etcdserverpb_WatchResponse()
            var bare = Etcdserverpb_ResponseHeader()
            bare.clusterID = 7
            bare.memberID = memberID
            bare.raftTerm = 2
            canceled.header = bare
            canceled.canceled = true
            canceled.compactRevision = compactedAt
            try await response.write(canceled)
            return
        }
        // The client ends a watch by closing or resetting the stream: the request side then ends.
        // Progress requests are answered by the sending task, the only one that writes.
        let progressOwed = ManagedCounter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while let message = try await requests.next() {
                    guard case .progressRequest = message.requestUnion else { continue }
                    let breaks = self.locked { () -> Bool in
                        self.progressRequestsSeen += 1
                        guard self.progressBreaksLeft > 0 else { return false }
                        self.progressBreaksLeft -= 1
                        return true
                    }
                    if breaks { throw RPCError(code: .unavailable, message: "fake: stream broken before the progress answer") }
                    progressOwed.increment()
                }
            }
            group.addTask {
                try await self.send(create, from: current, to: response, progressOwed: progressOwed)
            }
            _ = try await group.next()
            group.cancelAll()
        }
    }

    private func send(
        _ create: Etcdserverpb_WatchCreateRequest, from current: Int64, to response: RPCWriter<Etcdserverpb_WatchResponse>,
        progressOwed: ManagedCounter
    ) async throws {
        var next = create.startRevision > 0 ? create.startRevision : current + 1
        var sent = 0
        while true {
            if progressOwed.take() {
                // etcd 3.4's answer: for every watch of the stream (id -1), the current revision.
                var answer = Etcdserverpb_WatchResponse()
                answer.header = locked { header() }
                answer.watchID = -1
                try await response.write(answer)
            }
            let (events, top) = locked { () -> ([Mvccpb_Event], Int64) in
                let due = history.filter { $0.kv.modRevision >= next && matches($0, create) }
                return (Array(due.prefix(batch)), revision)
            }
            if events.isEmpty {
                next = max(next, top + 1)
                try await Task.sleep(for: .milliseconds(5))
                continue
            }
            let shouldBreak = locked { () -> Bool in
                guard breaksLeft > 0, sent >= breakAfterEvents else { return false }
                breaksLeft -= 1
                return true
            }
            if shouldBreak { throw RPCError(code: .unavailable, message: "fake: stream broken") }
            var events2 = events
            if !create.prevKv { events2 = events2.map { var event = $0; event.clearPrevKv(); return event } }
            let pieces = create.fragment ? stride(from: 0, to: events2.count, by: eventsPerFragment).map {
                Array(events2[$0..<min($0 + eventsPerFragment, events2.count)])
            } : [events2]
            for (index, piece) in pieces.enumerated() {
                var message = Etcdserverpb_WatchResponse()
                message.header = locked { header() }
                message.events = piece
                message.fragment = index < pieces.count - 1
                try await response.write(message)
            }
            sent += events.count
            next = events.last!.kv.modRevision + 1
        }
    }
}

