import KeelStorage
import Synchronization

/// Where a node's watchers wait for changes: etcd's watchable store, in two groups.
///
/// A *synced* watcher has seen everything up to the store's revision and is handed each change as
/// it is applied (``applied(_:revision:compactedRevision:)`` runs on the storage thread right after
/// the write). A watcher that starts in the past, or whose client reads too slowly to keep up
/// (more than ``WatchLimits/pendingEventsMax`` events waiting), is *behind*: it drops what it
/// buffered and reads history back from storage in bounded steps (``catchUp(_:from:)``, also on the
/// storage thread, so no change can slip between the read and its return to the synced group).
/// Memory per watcher is therefore bounded whatever the client does, and every watcher sees every
/// change on its keys once, in revision order, with no gap.
///
/// Streams (``WatchStream``) collect what they owe their client; a stream's owner drains them.
public final class WatchHub: KVChangeObserver, Sendable {
    /// The limits every stream and watcher is held to.
    public let limits: WatchLimits
    private let state: Mutex<HubState>

    struct WatcherRef: Hashable {
        var stream: Int
        var id: Int64
    }

    struct Watcher {
        enum Phase: Equatable {
            /// Fed by each applied change.
            case synced
            /// Must read history from `next` on; a drain turns it into a catch-up job.
            case behind(next: Int64)
            /// A catch-up job from `next` is out.
            case catchingUp(next: Int64)
        }

        var spec: WatchSpec
        /// A synced watcher is not handed changes below this revision: its start revision, or the
        /// revision after the history a catch-up already gave it. Never above a behind watcher's `next`.
        var minRevision: Int64
        var phase: Phase
        /// Invariant: at most ``WatchLimits/pendingEventsMax`` events while synced (a catch-up
        /// may add one more history read's worth, itself bounded).
        var pending: [KVEvent] = []
        /// A progress notification is owed once nothing is pending and the watcher is synced.
        var progressWanted = false
    }

    struct Stream {
        var watchers: [Int64: Watcher] = [:]
        /// Created, refused and cancelled answers, sent before any events.
        var controls: [WatchOutput] = []
        var lastAssignedID: Int64 = -1
        /// A progress request for the whole stream is waiting for every watcher to be synced.
        var progressRequested = false
        let wakeup: AsyncStream<Void>.Continuation
    }

    struct HubState {
        var revision: Int64
        var compactedRevision: Int64
        var streams: [Int: Stream] = [:]
        var lastStream = 0
        var watcherCount = 0
        /// Single-key watchers by key, and range watchers with their spec, to match a change fast.
        var byKey: [[UInt8]: Set<WatcherRef>] = [:]
        var ranged: [WatcherRef: WatchSpec] = [:]
    }

    /// A hub for a store at `revision`.
    public init(revision: Int64, compactedRevision: Int64, limits: WatchLimits = WatchLimits()) {
        self.limits = limits
        state = Mutex(HubState(revision: revision, compactedRevision: compactedRevision))
    }

    /// The revision the hub has seen applied.
    public var revision: Int64 { state.withLock { $0.revision } }
    /// Watchers on the node now.
    public var watcherCount: Int { state.withLock { $0.watcherCount } }
    /// History reads run for watchers that were behind, since the hub started.
    public var catchUpsRun: Int { catchUps.load(ordering: .relaxed) }
    private let catchUps = Atomic<Int>(0)

    /// Events a watcher holds for its client now (tests check the bound).
    func pendingCount(stream: Int, watch: Int64) -> Int {
        state.withLock { $0.streams[stream]?.watchers[watch]?.pending.count ?? 0 }
    }

    // MARK: Streams

    /// Opens a stream, or refuses when the node holds ``WatchLimits/streamsMax`` of them.
    public func openStream() throws(WatchRefusal) -> WatchStream {
        let (wakeups, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = try state.withLock { (hub: inout HubState) throws(WatchRefusal) -> Int in
            guard hub.streams.count < limits.streamsMax else { throw .tooManyWatchers(limit: limits.streamsMax) }
            hub.lastStream += 1
            hub.streams[hub.lastStream] = Stream(wakeup: continuation)
            return hub.lastStream
        }
        return WatchStream(hub: self, id: id, wakeups: wakeups)
    }

    /// Closes every stream (the node stopped): their owners see ``WatchStream/wakeups`` end.
    public func closeAll() {
        let streams = state.withLock { $0.streams.keys.sorted() }
        for stream in streams { close(stream: stream) }
    }

    func close(stream: Int) {
        state.withLock { hub in
            guard let closing = hub.streams[stream] else { return }
            for id in closing.watchers.keys { Self.remove(WatcherRef(stream: stream, id: id), from: &hub) }
            hub.streams[stream] = nil
            closing.wakeup.finish()
        }
    }

    func create(_ spec: WatchSpec, on stream: Int) -> Int64? {
        state.withLock { hub -> Int64? in
            guard var owner = hub.streams[stream] else { return nil }
            defer {
                hub.streams[stream] = owner
                owner.wakeup.yield()
            }
            let revision = hub.revision
            func refuse(_ id: Int64, _ refusal: WatchRefusal) -> Int64? {
                owner.controls.append(.refused(id: id, revision: revision, reason: refusal.message))
                return nil
            }
            var id = spec.chosenID
            if id != 0 {
                guard owner.watchers[id] == nil else { return refuse(-1, .duplicateID(id)) }
            } else {
                repeat { owner.lastAssignedID += 1 } while owner.watchers[owner.lastAssignedID] != nil
                id = owner.lastAssignedID
            }
            let (start, end) = spec.bounds
            if let end, !start.lexicographicallyPrecedes(end) { return refuse(-1, .emptyRange) }
            guard owner.watchers.count < limits.watchersPerStreamMax else {
                return refuse(-1, .tooManyWatchers(limit: limits.watchersPerStreamMax))
            }
            guard hub.watcherCount < limits.watchersMax else { return refuse(-1, .tooManyWatchers(limit: limits.watchersMax)) }
            // A start at or before the present reads history first; otherwise the watcher only
            // listens, skipping what is applied before its start revision.
            let watcher: Watcher
            if spec.startRevision > 0, spec.startRevision <= revision {
                watcher = Watcher(spec: spec, minRevision: spec.startRevision, phase: .behind(next: spec.startRevision))
            } else {
                watcher = Watcher(spec: spec, minRevision: max(spec.startRevision, revision + 1), phase: .synced)
            }
            owner.watchers[id] = watcher
            owner.controls.append(.created(id: id, revision: revision))
            hub.watcherCount += 1
            let ref = WatcherRef(stream: stream, id: id)
            if spec.rangeEnd.isEmpty { hub.byKey[spec.key, default: []].insert(ref) } else { hub.ranged[ref] = spec }
            return id
        }
    }

    func cancel(_ id: Int64, on stream: Int) {
        state.withLock { hub in
            guard var owner = hub.streams[stream], owner.watchers[id] != nil else { return }
            owner.controls.append(.canceled(id: id, revision: hub.revision, compactRevision: 0, reason: ""))
            hub.streams[stream] = owner
            Self.remove(WatcherRef(stream: stream, id: id), from: &hub)
            owner.wakeup.yield()
        }
    }

    func requestProgress(on stream: Int) {
        state.withLock { hub in
            hub.streams[stream]?.progressRequested = true
            hub.streams[stream]?.wakeup.yield()
        }
    }

    /// Marks every synced watcher that asked for progress notifications as owed one.
    func notifyProgress(on stream: Int) {
        state.withLock { hub in
            guard var owner = hub.streams[stream] else { return }
            for (id, watcher) in owner.watchers where watcher.spec.progressNotify && watcher.pending.isEmpty {
                owner.watchers[id]?.progressWanted = true
            }
            hub.streams[stream] = owner
            owner.wakeup.yield()
        }
    }

    private static func remove(_ ref: WatcherRef, from hub: inout HubState) {
        guard let watcher = hub.streams[ref.stream]?.watchers.removeValue(forKey: ref.id) else { return }
        hub.watcherCount -= 1
        if watcher.spec.rangeEnd.isEmpty {
            hub.byKey[watcher.spec.key]?.remove(ref)
            if hub.byKey[watcher.spec.key]?.isEmpty == true { hub.byKey[watcher.spec.key] = nil }
        } else {
            hub.ranged[ref] = nil
        }
    }

    // MARK: Draining

    /// Takes what `stream` owes its client, in order, and the catch-up reads it needs; nil once
    /// the stream is closed.
    func drain(stream: Int) -> (outputs: [WatchOutput], catchUps: [WatchCatchUp])? {
        state.withLock { hub -> (outputs: [WatchOutput], catchUps: [WatchCatchUp])? in
            guard var owner = hub.streams[stream] else { return nil }
            var outputs = owner.controls
            owner.controls = []
            var catchUps: [WatchCatchUp] = []
            var everySynced = true
            for id in owner.watchers.keys.sorted() {
                var watcher = owner.watchers[id]!
                if !watcher.pending.isEmpty {
                    let seen = watcher.phase == .synced ? hub.revision : watcher.pending.last!.revision
                    Self.chunk(watcher.pending, eventsMax: limits.catchUpEventsMax) { events, isLast in
                        outputs.append(.events(id: id, revision: isLast ? seen : events.last!.revision, events: events))
                    }
                    watcher.pending = []
                }
                switch watcher.phase {
                case .synced:
                    if watcher.progressWanted {
                        outputs.append(.progress(id: id, revision: hub.revision))
                        watcher.progressWanted = false
                    }
                case .behind(let next):
                    watcher.phase = .catchingUp(next: next)
                    catchUps.append(WatchCatchUp(stream: stream, id: id, next: next))
                    everySynced = false
                case .catchingUp:
                    everySynced = false
                }
                owner.watchers[id] = watcher
            }
            // A progress answer says "everything up to here was sent": only true once no
            // watcher is still reading history.
            if owner.progressRequested, everySynced {
                outputs.append(.progress(id: -1, revision: hub.revision))
                owner.progressRequested = false
            }
            hub.streams[stream] = owner
            return (outputs, catchUps)
        }
    }

    /// Splits events into runs of about `eventsMax`, never splitting one revision.
    static func chunk(_ events: [KVEvent], eventsMax: Int, _ body: ([KVEvent], Bool) -> Void) {
        var start = 0
        while start < events.count {
            var end = min(start + eventsMax, events.count)
            while end < events.count, events[end].revision == events[end - 1].revision { end += 1 }
            body(Array(events[start..<end]), end == events.count)
            start = end
        }
    }

    // MARK: Feeding (on the storage thread)

    /// Hands a committed change to the synced watchers on its keys.
    public func applied(_ events: [KVEvent], revision: Int64, compactedRevision: Int64) {
        state.withLock { hub in
            hub.revision = revision
            if compactedRevision > hub.compactedRevision {
                hub.compactedRevision = compactedRevision
                // Tell idle progress watchers how far they are, so one resuming after a
                // disconnect asks for a revision compaction has not removed, where possible.
                for stream in hub.streams.keys { Self.markProgress(on: stream, in: &hub) }
            }
            guard !events.isEmpty else { return }
            var matched: [WatcherRef: [KVEvent]] = [:]
            for event in events {
                if let refs = hub.byKey[event.kv.key] {
                    for ref in refs { matched[ref, default: []].append(event) }
                }
                for (ref, spec) in hub.ranged where spec.contains(event.kv.key) {
                    matched[ref, default: []].append(event)
                }
            }
            var woken: Set<Int> = []
            for (ref, changes) in matched {
                guard var watcher = hub.streams[ref.stream]?.watchers[ref.id], watcher.phase == .synced else { continue }
                var wanted = changes.filter { watcher.spec.wants($0) && $0.revision >= watcher.minRevision }
                // Applied changes always carry the previous state; a watcher that did not ask for
                // it must not be sent it.
                if !watcher.spec.prevKv { for index in wanted.indices { wanted[index].prevKv = nil } }
                guard !wanted.isEmpty else { continue }
                watcher.pending.append(contentsOf: wanted)
                if watcher.pending.count > limits.pendingEventsMax {
                    // The client reads too slowly: stop buffering, read history back later.
                    watcher.phase = .behind(next: watcher.pending[0].revision)
                    watcher.minRevision = watcher.pending[0].revision
                    watcher.pending = []
                }
                hub.streams[ref.stream]!.watchers[ref.id] = watcher
                woken.insert(ref.stream)
            }
            for stream in woken { hub.streams[stream]?.wakeup.yield() }
        }
    }

    private static func markProgress(on stream: Int, in hub: inout HubState) {
        guard var owner = hub.streams[stream] else { return }
        var any = false
        for (id, watcher) in owner.watchers where watcher.spec.progressNotify && watcher.phase == .synced && watcher.pending.isEmpty {
            owner.watchers[id]?.progressWanted = true
            any = true
        }
        hub.streams[stream] = owner
        if any { owner.wakeup.yield() }
    }

    /// A leader's snapshot replaced the store: the changes it brought were not seen one by one,
    /// so every synced watcher reads them back from storage.
    public func stateReplaced(revision: Int64, compactedRevision: Int64) {
        state.withLock { hub in
            let next = hub.revision + 1
            for (streamID, var owner) in hub.streams {
                for (id, watcher) in owner.watchers where watcher.phase == .synced {
                    let from = max(next, watcher.minRevision)
                    owner.watchers[id]?.phase = .behind(next: from)
                    owner.watchers[id]?.minRevision = from
                }
                hub.streams[streamID] = owner
                owner.wakeup.yield()
            }
            hub.revision = revision
            hub.compactedRevision = compactedRevision
        }
    }

    /// Reads the next stretch of history for a watcher that is behind. Must run on the storage
    /// thread, where changes are applied: none can be applied between the read and the watcher's
    /// return to the synced group. A watcher whose history was compacted is cancelled with the
    /// compacted revision, as etcd does.
    public func catchUp(_ job: WatchCatchUp, from machine: KVStateMachine) {
        let ref = WatcherRef(stream: job.stream, id: job.id)
        let spec = state.withLock { hub -> WatchSpec? in
            guard let watcher = hub.streams[ref.stream]?.watchers[ref.id], watcher.phase == .catchingUp(next: job.next) else { return nil }
            return watcher.spec
        }
        guard let spec else { return }
        catchUps.add(1, ordering: .relaxed)
        let history: KVHistory
        do {
            history = try machine.history(
                key: spec.key, rangeEnd: spec.rangeEnd, from: job.next, prevKv: spec.prevKv,
                eventsMax: limits.catchUpEventsMax, scannedMax: limits.catchUpScannedMax)
        } catch {
            let compacted = (error as? StorageError)?.code == .compacted
            end(ref, compactRevision: compacted ? machine.compactedRevision : 0, reason: compacted ? "" : "\(error)")
            return
        }
        state.withLock { hub in
            guard var watcher = hub.streams[ref.stream]?.watchers[ref.id], watcher.phase == .catchingUp(next: job.next) else { return }
            // History starts at the first revision the watcher has not seen: nothing in it to skip.
            watcher.pending.append(contentsOf: history.events.filter { spec.wants($0) })
            if history.throughRevision >= hub.revision {
                watcher.phase = .synced
                watcher.minRevision = max(watcher.minRevision, history.throughRevision + 1)
            } else {
                watcher.phase = .behind(next: history.throughRevision + 1)
            }
            hub.streams[ref.stream]!.watchers[ref.id] = watcher
            hub.streams[ref.stream]!.wakeup.yield()
        }
    }

    private func end(_ ref: WatcherRef, compactRevision: Int64, reason: String) {
        state.withLock { hub in
            guard hub.streams[ref.stream]?.watchers[ref.id] != nil else { return }
            hub.streams[ref.stream]!.controls.append(
                .canceled(id: ref.id, revision: hub.revision, compactRevision: compactRevision, reason: reason))
            Self.remove(ref, from: &hub)
            hub.streams[ref.stream]!.wakeup.yield()
        }
    }
}

/// One client stream's watchers (etcd's `WatchStream`): create and cancel them, ask for progress,
/// and drain what is owed to the client. Owned by one task, which must ``close()`` it.
public final class WatchStream: Sendable {
    let hub: WatchHub
    let id: Int
    /// Yields when something may be owed; finishes once the stream is closed.
    public let wakeups: AsyncStream<Void>

    init(hub: WatchHub, id: Int, wakeups: AsyncStream<Void>) {
        self.hub = hub
        self.id = id
        self.wakeups = wakeups
    }

    /// Creates a watcher; its `created` (or `refused`) answer is queued. Returns its id, nil when refused.
    @discardableResult
    public func create(_ spec: WatchSpec) -> Int64? { hub.create(spec, on: id) }
    /// Cancels a watcher; its `canceled` answer is queued. Unknown ids are ignored.
    public func cancel(_ watchID: Int64) { hub.cancel(watchID, on: id) }
    /// Queues a progress answer for the whole stream, sent once no watcher is reading history.
    public func requestProgress() { hub.requestProgress(on: id) }
    /// Owes a progress notification to each idle watcher that asked for them (the periodic tick).
    public func notifyProgress() { hub.notifyProgress(on: id) }
    /// What is owed now, in order, and the history reads to run (``KeelNode/catchUp(_:)``); nil once closed.
    public func drain() -> (outputs: [WatchOutput], catchUps: [WatchCatchUp])? { hub.drain(stream: id) }
    /// Removes every watcher and ends ``wakeups``.
    public func close() { hub.close(stream: id) }
}
