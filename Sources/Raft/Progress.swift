/// How the leader replicates to one follower (etcd's progress states).
enum ProgressState: Sendable, Equatable {
    /// The match is unknown: send one append at a time and backtrack on rejection.
    case probe
    /// The follower is known to match: stream appends optimistically, bounded by the inflight window.
    case replicate
    /// The follower is too far behind for entries: a snapshot is on its way; send nothing else.
    case snapshot
}

/// The leader's view of one follower (Figure 2, "Volatile state on leaders", plus flow control).
struct Progress: Sendable {
    /// Highest index known to be replicated on the follower. Invariant: match < next.
    var match: LogIndex
    /// Index of the next entry to send.
    var next: LogIndex
    var state: ProgressState = .probe
    /// In the snapshot state: the index of the snapshot sent.
    var pendingSnapshot: LogIndex = .zero
    /// In the probe state: an append is outstanding, wait for its answer or the next heartbeat.
    var probeSent = false
    /// Heard from the follower since the last check-quorum round (thesis §6.2).
    var recentActive = false
    /// The latest `leaseTick` the follower echoed (thesis §6.4.1); 0 if none this term.
    var leaseTick: UInt64 = 0
    /// In the snapshot state: a check-quorum round passed since the snapshot was sent.
    var snapshotRoundSeen = false
    var isLearner: Bool
    var inflights: Inflights

    init(next: LogIndex, inflightMessagesMax: Int, isLearner: Bool) {
        precondition(next > .zero)
        self.match = .zero
        self.next = next
        self.isLearner = isLearner
        self.inflights = Inflights(capacity: inflightMessagesMax)
    }

    /// Whether the leader must hold back appends to this follower.
    var isPaused: Bool {
        switch state {
        case .probe: probeSent
        case .replicate: inflights.isFull
        case .snapshot: true
        }
    }

    mutating func becomeProbe() {
        if state == .snapshot {
            // Resume after the snapshot if it landed, else from what we know matches.
            let afterSnapshot = pendingSnapshot.advanced(by: 1)
            state = .probe
            next = max(match.advanced(by: 1), afterSnapshot)
        } else {
            state = .probe
            next = match.advanced(by: 1)
        }
        pendingSnapshot = .zero
        probeSent = false
        inflights.reset()
        precondition(match < next)
    }

    mutating func becomeReplicate() {
        state = .replicate
        next = match.advanced(by: 1)
        pendingSnapshot = .zero
        probeSent = false
        inflights.reset()
    }

    mutating func becomeSnapshot(_ index: LogIndex) {
        state = .snapshot
        snapshotRoundSeen = false
        pendingSnapshot = index
        probeSent = false
        inflights.reset()
    }

    /// Records an append carrying entries up to `last` (or no entries when `last` is nil).
    mutating func sentEntries(last: LogIndex?) {
        switch state {
        case .replicate:
            if let last {
                precondition(last >= next, "replicate sends only new entries")
                next = last.advanced(by: 1)
                inflights.add(last)
            }
        case .probe:
            probeSent = true
        case .snapshot:
            preconditionFailure("no appends while a snapshot is in flight")
        }
        precondition(match < next)
    }

    /// The follower acknowledged up to `index`. Returns false for a stale acknowledgement.
    mutating func maybeUpdate(_ index: LogIndex) -> Bool {
        var updated = false
        if index > match {
            match = index
            updated = true
            probeSent = false
        }
        next = max(next, index.advanced(by: 1))
        precondition(match < next)
        return updated
    }

    /// The follower rejected an append after `rejected`; `matchHint` is where a match may be
    /// (fast backtracking, §5.3). Returns false for a stale rejection.
    mutating func maybeDecrTo(rejected: LogIndex, matchHint: LogIndex) -> Bool {
        if state == .replicate {
            // Stale: we already know a match past it.
            if rejected <= match { return false }
            next = match.advanced(by: 1)
            return true
        }
        // In probe state only the answer to the one outstanding probe counts.
        if next.advanced(by: -1) != rejected { return false }
        next = max(min(rejected, matchHint.advanced(by: 1)), match.advanced(by: 1))
        probeSent = false
        precondition(match < next)
        return true
    }
}
