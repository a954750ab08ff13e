/// What the set checker found for a grow-only set history (Jepsen's `set-full` analysis).
///
/// Element lists are complete and sorted by element; the text and JSON renderings cap them
/// (`SetCheckResult.reportedElementsMax`) while the counts stay exact.
public struct SetCheckResult: Sendable, Equatable {
    /// Invalid if any element was lost, stale, duplicated, unexpected, read before its add, or read
    /// although its add failed; otherwise unknown if no element was ever read after it was known to be
    /// in the set; otherwise valid.
    public var verdict: Verdict
    /// Distinct elements some `:add` tried to insert, whatever its outcome.
    public var attemptedCount: Int
    /// Distinct elements whose `:add` completed `:ok`.
    public var acknowledgedCount: Int
    /// `:ok` reads, the only ones that say anything.
    public var readCount: Int
    /// Present in every read that began after the element was known to be in the set.
    public var stable: [Int]
    /// Missing from every read that began after it was known and after the last read that saw it
    /// completed (there is at least one such read): gone for good.
    public var lost: [SetLostElement]
    /// Missing from some read that began after it was known, but seen again by a read that ended later:
    /// the set went back in time, which a linearizable set never does.
    public var stale: [SetStaleElement]
    /// Known to be in the set, but no read began after that point, so nothing can be said.
    public var neverRead: [Int]
    /// Appeared more than once in a single read.
    public var duplicated: [SetDuplicatedElement]
    /// Returned by a read although no `:add` ever tried to insert it.
    public var unexpected: [SetElementSighting]
    /// Returned by a read although its `:add` completed `:fail`, so it certainly never happened.
    public var readAfterFailedAdd: [SetElementSighting]
    /// Returned by a read that completed before its `:add` was even invoked.
    public var readBeforeAdd: [SetElementSighting]
    /// Added by an `:add` whose outcome is unknown (`:info` or no answer) and seen by some read: the add
    /// took effect after all. Not a problem.
    public var recovered: [SetElementSighting]
    /// Added by an `:add` that did not complete `:ok` and never seen: it may or may not have happened.
    public var unresolved: [Int]

    /// How many elements each list in the text and JSON renderings shows at most.
    public static let reportedElementsMax = 20

    /// The stale element that stayed missing the longest after it was known (in events), if any.
    public var worstStale: SetStaleElement? {
        stale.max { ($0.staleEvents, $1.element) < ($1.staleEvents, $0.element) }
    }
}

/// An element that disappeared and never came back.
public struct SetLostElement: Sendable, Equatable {
    /// The element.
    public var element: Int
    /// The `:add` that inserted it (`HistoryOperation.id`).
    public var addOperationID: Int
    /// The event index from which every later read must contain it: the add's acknowledgement, or the
    /// completion of the first read that saw it, whichever came first.
    public var knownEvent: Int
    /// The last read (by completion) that contained it, nil if no read ever did.
    public var lastSeenByOperationID: Int?
    /// The first read that began after `knownEvent` and after that last sighting, and missed it.
    public var missedByOperationID: Int
}

/// An element that a read missed after it was known, but that a later-ending read saw again.
public struct SetStaleElement: Sendable, Equatable {
    /// The element.
    public var element: Int
    /// The `:add` that inserted it.
    public var addOperationID: Int
    /// The event index from which every later read must contain it (see `SetLostElement.knownEvent`).
    public var knownEvent: Int
    /// The latest-beginning read that began after `knownEvent` and missed it.
    public var missedByOperationID: Int
    /// The last read (by completion) that contained it.
    public var seenAgainByOperationID: Int
    /// Events between `knownEvent` and the invocation of the read that missed it: how stale that read was.
    public var staleEvents: Int
    /// The same gap in nanoseconds, when both events carry a `:time`.
    public var staleNanoseconds: Int?
}

/// An element that one read returned more than once.
public struct SetDuplicatedElement: Sendable, Equatable {
    /// The element.
    public var element: Int
    /// The read (`HistoryOperation.id`).
    public var readOperationID: Int
    /// How many times the read returned it (at least 2).
    public var copies: Int
}

/// A read returning an element, and the add it is measured against.
public struct SetElementSighting: Sendable, Equatable {
    /// The element.
    public var element: Int
    /// The first read that returned it (for `readBeforeAdd`: the first read that did so too early).
    public var readOperationID: Int
    /// The `:add` of the element; nil when there was none.
    public var addOperationID: Int?
}
