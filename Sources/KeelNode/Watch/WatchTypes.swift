import KeelStorage

/// What a watcher watches and how, as etcd's `WatchCreateRequest` says it.
public struct WatchSpec: Sendable, Hashable {
    /// The key, or the start of the range.
    public var key: [UInt8]
    /// etcd's range end: empty for the single key, `[0]` for every key from `key` on.
    public var rangeEnd: [UInt8]
    /// The first revision to report; 0 for "changes after now".
    public var startRevision: Int64
    /// Leave out puts (etcd's NOPUT filter).
    public var skipPuts: Bool
    /// Leave out deletes (etcd's NODELETE filter).
    public var skipDeletes: Bool
    /// Report each key's previous state with its event.
    public var prevKv: Bool
    /// Send progress notifications while nothing happens.
    public var progressNotify: Bool
    /// The id the client chose; 0 to have one assigned.
    public var chosenID: Int64

    /// A spec with these fields.
    public init(
        key: [UInt8], rangeEnd: [UInt8] = [], startRevision: Int64 = 0, skipPuts: Bool = false, skipDeletes: Bool = false,
        prevKv: Bool = false, progressNotify: Bool = false, chosenID: Int64 = 0
    ) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.startRevision = startRevision
        self.skipPuts = skipPuts
        self.skipDeletes = skipDeletes
        self.prevKv = prevKv
        self.progressNotify = progressNotify
        self.chosenID = chosenID
    }

    /// Whether an event passes this watcher's filters (its key is matched elsewhere).
    func wants(_ event: KVEvent) -> Bool {
        switch event.kind {
        case .put: !skipPuts
        case .delete: !skipDeletes
        }
    }

    /// `[start, end)`; end nil means unbounded.
    var bounds: (start: [UInt8], end: [UInt8]?) { KeyRange.bounds(key: key, rangeEnd: rangeEnd) }

    func contains(_ candidate: [UInt8]) -> Bool {
        let (start, end) = bounds
        return KeyRange.contains(start: start, end: end, candidate)
    }
}

/// One message a watch stream owes its client, in the order it must be sent.
public enum WatchOutput: Sendable, Hashable {
    /// The watch exists; changes after `revision` (or from its start revision) will follow.
    case created(id: Int64, revision: Int64)
    /// The watch could not be created (`reason` says why); etcd answers `created` and `canceled` together.
    case refused(id: Int64, revision: Int64, reason: String)
    /// The watch ended: cancelled by the client, or its history was compacted (`compactRevision`
    /// nonzero: the first revision the client can still resume from, as etcd reports it).
    case canceled(id: Int64, revision: Int64, compactRevision: Int64, reason: String)
    /// Changes, in revision order; `revision` is the latest revision the client has now seen
    /// everything up to on this watch.
    case events(id: Int64, revision: Int64, events: [KVEvent])
    /// Nothing the watch reports happened up to `revision`. `id` -1 answers a progress request for
    /// the whole stream (etcd 3.4's shape).
    case progress(id: Int64, revision: Int64)
}

/// Why a watch was not created.
public enum WatchRefusal: Error, Sendable, Hashable {
    /// The chosen id is in use on this stream.
    case duplicateID(Int64)
    /// The range is empty (its end is at or before its start).
    case emptyRange
    /// This stream, or the node, holds as many watchers as allowed.
    case tooManyWatchers(limit: Int)

    /// etcd's text for it, where etcd has one.
    public var message: String {
        switch self {
        case .duplicateID: "mvcc: duplicate watch ID provided on the WatchStream"
        case .emptyRange: "mvcc: watcher range is empty"
        case .tooManyWatchers(let limit): "etcdserver: too many watchers (at most \(limit))"
        }
    }
}

/// Limits on what watchers may hold, so slow clients never grow memory without bound.
public struct WatchLimits: Sendable, Hashable {
    /// Events a watcher may have waiting to be sent; past it, the watcher falls back to reading
    /// history from storage (etcd's unsynced group) instead of buffering.
    public var pendingEventsMax: Int = 1_024
    /// Events one catch-up read from storage may collect (whole revisions are kept together).
    public var catchUpEventsMax: Int = 1_000
    /// Writes one catch-up read may look at, so it holds the storage thread for a bounded time.
    public var catchUpScannedMax: Int = 10_000
    /// Watchers on one stream.
    public var watchersPerStreamMax: Int = 10_000
    /// Watchers on the node.
    public var watchersMax: Int = 100_000
    /// Watch streams on the node.
    public var streamsMax: Int = 10_000

    /// The defaults.
    public init() {}
}

/// A watcher that is behind and must read history from storage: from `next` on.
public struct WatchCatchUp: Sendable, Hashable {
    /// The stream.
    public var stream: Int
    /// The watcher's id on it.
    public var id: Int64
    /// The first revision it has not seen.
    public var next: Int64
}
