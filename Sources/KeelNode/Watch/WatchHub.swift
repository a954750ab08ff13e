import KeelStorage
import Metrics
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
        var ids: Set<Int64> = []
        /// Created, refused and cancelled answers, sent before any events.
        var controls: [WatchOutput] = []
        var lastAssignedID: Int64 = -1
        /// A progress request for the whole stream is waiting for every watcher to be synced.
        var progressRequested = false
        /// Watchers with events to send, a history read to start or a progress notification owed:
        /// a drain visits only these, so its cost follows what changed, not the stream's size.
        var dirty: Set<Int64> = []
        /// Watchers behind or catching up.
        var unsynced: Set<Int64> = []
        let wakeup: AsyncStream<Void>.Continuation
    }

    struct HubState {
        var revision: Int64
        var compactedRevision: Int64
        var streams: [Int: Stream] = [:]
        var lastStream = 0
        /// Every watcher, changed in place through this dictionary (never copied out and written
        /// back, which would copy its pending events on each change).
        var watchers: [WatcherRef: Watcher] = [:]
        /// Single-key watchers by key, and range watchers with their spec, to match a change fast.
        var byKey: [[UInt8]: Set<WatcherRef>] = [:]
        var ranged: [WatcherRef: WatchSpec] = [:]

        /// Watchers behind or catching up, on every stream.
        var unsyncedCount = 0

        mutating func setPhase(_ ref: WatcherRef, _ phase: Watcher.Phase) {
            watchers[ref]?.phase = phase
            if phase == .synced {
                if streams[ref.stream]?.unsynced.remove(ref.id) != nil { unsyncedCount -= 1 }
            } else if streams[ref.stream]?.unsynced.insert(ref.id).inserted == true {
                unsyncedCount += 1
            }
        }

        mutating func markDirty(_ ref: WatcherRef) {
            streams[ref.stream]?.dirty.insert(ref.id)
        }
    }

    /// A hub for a store at `revision`.
    public init(revision: Int64, compactedRevision: Int64, limits: WatchLimits = WatchLimits()) {
        self.limits = limits
        state = Mutex(HubState(revision: revision, compactedRevision: compactedRevision))
    }

    /// The revision the hub has seen applied.
    public var revision: Int64 { state.withLock { $0.revision } }
    /// Watchers on the node now.
    public var watcherCount: Int { state.withLock { $0.watchers.count } }
    /// Streams open now.
    public var streamCount: Int { state.withLock { $0.streams.count } }
    /// Watchers behind (reading history) now: etcd's slow watchers.
    public var unsyncedCount: Int { state.withLock { $0.unsyncedCount } }
    /// History reads run for watchers that were behind, since the hub started.
    public var catchUpsRun: Int { catchUps.load(ordering: .relaxed) }
    private let catchUps = Atomic<Int>(0)

    /// etcd reports these as `etcd_debugging_mvcc_watch_stream_total`, `..._watcher_total` and
    /// `..._slow_watcher_total`.
    private let streamsGauge = Gauge(label: "keel_watch_streams")
    private let watchersGauge = Gauge(label: "keel_watchers")
    private let unsyncedGauge = Gauge(label: "keel_watchers_unsynced")
    private let catchUpsCounter = Counter(label: "keel_watch_catchups_total")

    /// Brings the gauges up to date; called with the state just changed.
    private func report(_ hub: HubState) {
        streamsGauge.record(hub.streams.count)
        watchersGauge.record(hub.watchers.count)
        unsyncedGauge.record(hub.unsyncedCount)
    }

    /// Events a watcher holds for its client now (tests check the bound).
    func pendingCount(stream: Int, watch: Int64) -> Int {
        state.withLock { $0.watchers[WatcherRef(stream: stream, id: watch)]?.pending.count ?? 0 }
    }

    // MARK: Streams

    /// Opens a stream, or refuses when the node holds ``WatchLimits/streamsMax`` of them.
    public func openStream() throws(WatchRefusal) -> WatchStream {
        let (wakeups, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = try state.withLock { (hub: inout HubState) throws(WatchRefusal) -> Int in
            guard hub.streams.count < limits.streamsMax else { throw .tooManyWatchers(limit: limits.streamsMax) }
            hub.lastStream += 1
            hub.streams[hub.lastStream] = Stream(wakeup: continuation)
            report(hub)
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
            for id in closing.ids { Self.remove(WatcherRef(stream: stream, id: id), from: &hub) }
            hub.streams[stream] = nil
            closing.wakeup.finish()
            report(hub)
        }
    }

    func create(_ spec: WatchSpec, on stream: Int) -> Int64? {
        state.withLock { hub -> Int64? in
            guard let owner = hub.streams[stream] else { return nil }
            defer {
                owner.wakeup.yield()
                report(hub)
            }
            let revision = hub.revision
            func refuse(_ refusal: WatchRefusal) -> Int64? {
                hub.streams[stream]!.controls.append(.refused(id: -1, revision: revision, reason: refusal.message))
                return nil
            }
            var id = spec.chosenID
            if id != 0 {
                guard !owner.ids.contains(id) else { return refuse(.duplicateID(id)) }
            } else {
                var candidate = owner.lastAssignedID
                repeat { candidate += 1 } while owner.ids.contains(candidate)
                hub.streams[stream]!.lastAssignedID = candidate
                id = candidate
            }
            let (start, end) = spec.bounds
            if let end, !start.lexicographicallyPrecedes(end) { return refuse(.emptyRange) }
            guard owner.ids.count < limits.watchersPerStreamMax else { return refuse(.tooManyWatchers(limit: limits.watchersPerStreamMax)) }
            guard hub.watchers.count < limits.watchersMax else { return refuse(.tooManyWatchers(limit: limits.watchersMax)) }
            let ref = WatcherRef(stream: stream, id: id)
            hub.streams[stream]!.ids.insert(id)
            hub.streams[stream]!.controls.append(.created(id: id, revision: revision))
            // A start at or before the present reads history first; otherwise the watcher only
            // listens, skipping what is applied before its start revision.
            if spec.startRevision > 0, spec.startRevision <= revision {
                hub.watchers[ref] = Watcher(spec: spec, minRevision: spec.startRevision, phase: .synced)
                hub.setPhase(ref, .behind(next: spec.startRevision))
                hub.markDirty(ref)
            } else {
                hub.watchers[ref] = Watcher(spec: spec, minRevision: max(spec.startRevision, revision + 1), phase: .synced)
            }
            if spec.rangeEnd.isEmpty { hub.byKey[spec.key, default: []].insert(ref) } else { hub.ranged[ref] = spec }
            return id
        }
    }

    func cancel(_ id: Int64, on stream: Int) {
        state.withLock { hub in
            guard let owner = hub.streams[stream], owner.ids.contains(id) else { return }
            hub.streams[stream]!.controls.append(.canceled(id: id, revision: hub.revision, compactRevision: 0, reason: ""))
            Self.remove(WatcherRef(stream: stream, id: id), from: &hub)
            owner.wakeup.yield()
            report(hub)
        }
    }

    func requestProgress(on stream: Int) {
        state.withLock { hub in
            hub.streams[stream]?.progressRequested = true
            hub.streams[stream]?.wakeup.yield()
        }
    }

    /// Marks every watcher on `stream` that asked for progress notifications as owed one; a
    /// drain sends it once the watcher is synced with nothing pending.
    func notifyProgress(on stream: Int) {
        state.withLock { hub in Self.markProgress(on: stream, in: &hub) }
    }

    private static func markProgress(on stream: Int, in hub: inout HubState) {
        guard let owner = hub.streams[stream] else { return }
        var any = false
        for id in owner.ids {
            let ref = WatcherRef(stream: stream, id: id)
            guard hub.watchers[ref]?.spec.progressNotify == true else { continue }
            hub.watchers[ref]!.progressWanted = true
            hub.markDirty(ref)
            any = true
        }
        if any { owner.wakeup.yield() }
    }

    private static func remove(_ ref: WatcherRef, from hub: inout HubState) {
        guard let watcher = hub.watchers.removeValue(forKey: ref) else { return }
        hub.streams[ref.stream]?.ids.remove(ref.id)
        hub.streams[ref.stream]?.dirty.remove(ref.id)
        if hub.streams[ref.stream]?.unsynced.remove(ref.id) != nil { hub.unsyncedCount -= 1 }
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
            guard hub.streams[stream] != nil else { return nil }
            var outputs = hub.streams[stream]!.controls
            hub.streams[stream]!.controls = []
            let dirty = hub.streams[stream]!.dirty.sorted()
            hub.streams[stream]!.dirty = []
            var catchUps: [WatchCatchUp] = []
            let revision = hub.revision
            for id in dirty {
                let ref = WatcherRef(stream: stream, id: id)
                guard hub.watchers[ref] != nil else { continue }
                if !hub.watchers[ref]!.pending.isEmpty {
                    let pending = hub.watchers[ref]!.pending
                    hub.watchers[ref]!.pending = []
                    let seen = hub.watchers[ref]!.phase == .synced ? revision : pending.last!.revision
                    Self.chunk(pending, eventsMax: limits.catchUpEventsMax) { events, isLast in
                        outputs.append(.events(id: id, revision: isLast ? seen : events.last!.revision, events: events))
                    }
                }
                switch hub.watchers[ref]!.phase {
                case .synced:
                    if hub.watchers[ref]!.progressWanted {
                        outputs.append(.progress(id: id, revision: revision))
                        hub.watchers[ref]!.progressWanted = false
                    }
                case .behind(let next):
                    hub.setPhase(ref, .catchingUp(next: next))
                    catchUps.append(WatchCatchUp(stream: stream, id: id, next: next))
                case .catchingUp:
                    break
                }
            }
            // A progress answer says "everything up to here was sent": only true once no
            // watcher is still reading history.
            if hub.streams[stream]!.progressRequested, hub.streams[stream]!.unsynced.isEmpty {
                outputs.append(.progress(id: -1, revision: revision))
                hub.streams[stream]!.progressRequested = false
            }
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
            var woken: Set<Int> = []
            var fellBehind = false
            func deliver(_ changes: [KVEvent], to ref: WatcherRef) {
                guard hub.watchers[ref]?.phase == .synced,
                    Self.feed(&hub.watchers[ref]!, changes, pendingEventsMax: limits.pendingEventsMax)
                else { return }
                if hub.watchers[ref]!.phase != .synced {
                    hub.setPhase(ref, hub.watchers[ref]!.phase)
                    fellBehind = true
                }
                hub.markDirty(ref)
                woken.insert(ref.stream)
            }
            // A revision writes a key at most once (etcd refuses a Txn that writes one twice), so a
            // single-key watcher gets one event: no grouping needed, the common case costs a lookup.
            for event in events {
                guard let refs = hub.byKey[event.kv.key] else { continue }
                let changes = [event]
                for ref in refs { deliver(changes, to: ref) }
            }
            if !hub.ranged.isEmpty {
                var matched: [WatcherRef: [KVEvent]] = [:]
                for event in events {
                    for (ref, spec) in hub.ranged where spec.contains(event.kv.key) { matched[ref, default: []].append(event) }
                }
                for (ref, changes) in matched { deliver(changes, to: ref) }
            }
            for stream in woken { hub.streams[stream]?.wakeup.yield() }
            // Every write passes here, on the storage thread: the gauges change only when a watcher fell behind.
            if fellBehind { report(hub) }
        }
    }

    /// Appends a synced watcher's share of a change; returns whether it has anything new to do.
    /// A watcher over its pending limit drops what it holds and will read history instead.
    private static func feed(_ watcher: inout Watcher, _ changes: [KVEvent], pendingEventsMax: Int) -> Bool {
        let minRevision = watcher.minRevision
        let spec = watcher.spec
        var wanted = changes
        if !changes.allSatisfy({ spec.wants($0) && $0.revision >= minRevision }) {
            wanted = changes.filter { spec.wants($0) && $0.revision >= minRevision }
        }
        guard !wanted.isEmpty else { return false }
        // Applied changes always carry the previous state; a watcher that did not ask for it
        // must not be sent it.
        if !spec.prevKv { for index in wanted.indices { wanted[index].prevKv = nil } }
        watcher.pending.append(contentsOf: wanted)
        if watcher.pending.count > pendingEventsMax {
            // The client reads too slowly: stop buffering, read history back later.
            let next = watcher.pending[0].revision
            watcher.phase = .behind(next: next)
            watcher.minRevision = next
            watcher.pending = []
        }
        return true
    }

    /// A leader's snapshot replaced the store: the changes it brought were not seen one by one,
    /// so every synced watcher reads them back from storage.
    public func stateReplaced(revision: Int64, compactedRevision: Int64) {
        state.withLock { hub in
            let next = hub.revision + 1
            for ref in Array(hub.watchers.keys) where hub.watchers[ref]!.phase == .synced {
                let from = max(next, hub.watchers[ref]!.minRevision)
                hub.watchers[ref]!.minRevision = from
                hub.setPhase(ref, .behind(next: from))
                hub.markDirty(ref)
            }
            for stream in hub.streams.values { stream.wakeup.yield() }
            hub.revision = revision
            hub.compactedRevision = compactedRevision
            report(hub)
        }
    }

    /// Reads the next stretch of history for a watcher that is behind. Must run on the storage
    /// thread, where changes are applied: none can be applied between the read and the watcher's
    /// return to the synced group. A watcher whose history was compacted is cancelled with the
    /// compacted revision, as etcd does.
    public func catchUp(_ job: WatchCatchUp, from machine: KVStateMachine) {
        let ref = WatcherRef(stream: job.stream, id: job.id)
        let spec = state.withLock { hub -> WatchSpec? in
            guard let watcher = hub.watchers[ref], watcher.phase == .catchingUp(next: job.next) else { return nil }
            return watcher.spec
        }
        guard let spec else { return }
        catchUps.add(1, ordering: .relaxed)
        catchUpsCounter.increment()
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
            guard hub.watchers[ref]?.phase == .catchingUp(next: job.next) else { return }
            // History starts at the first revision the watcher has not seen: nothing in it to skip.
            hub.watchers[ref]!.pending.append(contentsOf: history.events.filter { spec.wants($0) })
            if history.throughRevision >= hub.revision {
                hub.watchers[ref]!.minRevision = max(hub.watchers[ref]!.minRevision, history.throughRevision + 1)
                hub.setPhase(ref, .synced)
            } else {
                hub.setPhase(ref, .behind(next: history.throughRevision + 1))
            }
            hub.markDirty(ref)
            hub.streams[ref.stream]?.wakeup.yield()
            report(hub)
        }
    }

    private func end(_ ref: WatcherRef, compactRevision: Int64, reason: String) {
        state.withLock { hub in
            guard hub.watchers[ref] != nil else { return }
            hub.streams[ref.stream]?.controls.append(
                .canceled(id: ref.id, revision: hub.revision, compactRevision: compactRevision, reason: reason))
            Self.remove(ref, from: &hub)
            hub.streams[ref.stream]?.wakeup.yield()
            report(hub)
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
