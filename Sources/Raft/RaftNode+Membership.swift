// Switching configurations (thesis §4.3): the tracker follows the applied configuration.

extension RaftNode {
    /// Makes `new` the configuration in force from `index` on.
    func switchConfig(_ new: ConfState, at index: LogIndex) {
        tracker.apply(new, lastIndex: raftLog.lastIndex)
        if let last = confHistory.last, last.index > index {
            // Out-of-order bookkeeping can only come from a host that skipped applyConfChange; keep
            // the history ordered rather than guess.
            confHistory.append((last.index, new))
        } else {
            confHistory.append((index, new))
        }
        guard role == .leader else { return }
        if !tracker.isVoter(id) {
            // A leader removed (or demoted) by the change it just applied hands over by stepping down.
            becomeFollower(term: term, leader: .none)
            return
        }
        if leadTransferee != .none && !tracker.isVoter(leadTransferee) {
            leadTransferee = .none
        }
        // The quorum changed: the commit index may move, and new members need their first probe.
        maybeCommit()
        broadcastPending = true
    }

    /// Thesis §4.3: once the joint configuration is applied, the leader proposes leaving it.
    func maybeAutoLeave() {
        // Not during a transfer: new entries would keep the target from catching up (thesis §3.10).
        guard role == .leader, leadTransferee == .none else { return }
        let conf = tracker.confState
        guard conf.isJoint, conf.autoLeave, pendingConfIndex <= raftLog.applied else { return }
        let entry = Entry(term: term, index: raftLog.lastIndex.advanced(by: 1), kind: .confChange, data: ConfChange.leave.encoded())
        pendingConfIndex = entry.index
        appendAsLeader(entry)
    }
}
