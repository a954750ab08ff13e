// The Ready handshake: the core hands out work, the host does it in order and calls advance.

extension RaftNode {
    /// Whether `ready()` would hand out any work.
    public var hasReady: Bool {
        if !outbox.isEmpty || !readStates.isEmpty { return true }
        if broadcastPending || readHeartbeatPending { return true }
        if raftLog.hasUnhandedEntries || raftLog.unstableSnapshot != nil || raftLog.hasUnhandedCommitted { return true }
        return hardState != handedHardState
    }

    /// Hands out the queued work. Broadcasts deferred since the last call go out now, so every
    /// proposal accepted in between travels in one append per follower.
    public func ready() -> Ready {
        flush()
        var rd = Ready()
        rd.snapshot = raftLog.takeUnstableSnapshot()
        rd.entries = raftLog.takeUnstableEntries()
        let hs = hardState
        if hs != handedHardState {
            rd.hardState = hs
            handedHardState = hs
        }
        rd.messages = outbox
        outbox = []
        rd.committedEntries = raftLog.takeCommitted()
        for e in rd.committedEntries {
            if e.kind == .confChange { confEntriesHandedOut.append(e.index) }
            if role == .leader { uncommittedBytes = max(0, uncommittedBytes - e.data.count) }
        }
        rd.readStates = readStates
        readStates = []
        return rd
    }

    private func flush() {
        if role == .leader {
            if broadcastPending { broadcastAppend() }
            if readHeartbeatPending, let seq = readOnly.latestSeq {
                broadcastHeartbeat(context: ReadOnlyQueue.context(seq))
            }
        }
        broadcastPending = false
        readHeartbeatPending = false
    }

    /// The host persisted, sent and applied `rd`.
    public func advance(_ rd: Ready) {
        if let last = rd.entries.last { raftLog.stableTo(last.index, last.term) }
        if let last = rd.committedEntries.last {
            raftLog.appliedTo(last.index)
            // Configuration entries the host did not apply are skipped for good.
            while let first = confEntriesHandedOut.first, first <= last.index { confEntriesHandedOut.removeFirst() }
        }
        if role == .leader, let i = tracker.slot(id) {
            // The leader's own log counts towards a quorum only once durable.
            if tracker.progress[i].maybeUpdate(raftLog.stable) {
                if maybeCommit() { broadcastPending = true }
            }
            maybeAutoLeave()
        }
        checkInvariants()
    }
}
