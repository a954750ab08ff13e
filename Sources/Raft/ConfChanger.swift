// Computes the configuration that a change leads to. It never edits the old configuration: it
// returns a new one or throws, so a refused change leaves nothing half applied (etcd's confchange).

/// Applies a ``ConfChange`` to a ``ConfState``.
enum ConfChanger {
    /// The configuration after `change`, or an error saying why the change is invalid against `old`.
    static func apply(_ change: ConfChange, to old: ConfState) throws(RaftError) -> ConfState {
        if change.leaveJoint {
            guard change.changes.isEmpty else { throw RaftError(.invalidConfChange, "leaving joint carries no steps") }
            return try leaveJoint(old)
        }
        guard !change.changes.isEmpty else { throw RaftError(.invalidConfChange, "empty conf change") }
        guard !old.isJoint else {
            throw RaftError(.invalidConfChange, "configuration is joint; leave it first (thesis §4.3)")
        }
        if change.changes.count == 1 {
            return try simple(change.changes[0], old)
        }
        return try enterJoint(change, old)
    }

    /// One step: at most one voter changes, so every majority of the old voters overlaps every
    /// majority of the new ones (thesis §4.1).
    private static func simple(_ step: ConfChangeSingle, _ old: ConfState) throws(RaftError) -> ConfState {
        var new = old
        try applyStep(step, to: &new)
        let changedVoters = new.voters.symmetricDifference(old.voters).count
        precondition(changedVoters <= 1, "one step changes at most one voter")
        try check(new)
        return new
    }

    /// Several steps: the outgoing voters keep a say until the joint configuration is left (thesis §4.3).
    private static func enterJoint(_ change: ConfChange, _ old: ConfState) throws(RaftError) -> ConfState {
        guard !old.voters.isEmpty else { throw RaftError(.invalidConfChange, "cannot enter joint from no voters") }
        var new = old
        new.votersOutgoing = old.voters
        for step in change.changes {
            try applyStep(step, to: &new)
        }
        new.autoLeave = change.autoLeave
        try check(new)
        precondition(new.isJoint)
        return new
    }

    /// Drops the outgoing voters; those marked to become learners do so now.
    private static func leaveJoint(_ old: ConfState) throws(RaftError) -> ConfState {
        guard old.isJoint else { throw RaftError(.invalidConfChange, "configuration is not joint") }
        var new = old
        new.learners.formUnion(old.learnersNext)
        new.learnersNext = []
        new.votersOutgoing = []
        new.autoLeave = false
        try check(new)
        return new
    }

    private static func applyStep(_ step: ConfChangeSingle, to conf: inout ConfState) throws(RaftError) {
        guard step.node != .none else { throw RaftError(.invalidConfChange, "node id 0 is reserved") }
        switch step.type {
        case .addVoter:
            // Adding a learner as a voter promotes it (thesis §4.2.1).
            conf.learners.remove(step.node)
            conf.learnersNext.remove(step.node)
            conf.voters.insert(step.node)
        case .addLearner:
            conf.voters.remove(step.node)
            if conf.votersOutgoing.contains(step.node) {
                // Still a voter of the outgoing half: it becomes a learner only when the joint
                // configuration is left, so one node is never voter and learner at once.
                conf.learnersNext.insert(step.node)
            } else {
                conf.learners.insert(step.node)
            }
        case .removeNode:
            conf.voters.remove(step.node)
            conf.learners.remove(step.node)
            conf.learnersNext.remove(step.node)
        case .updateNode:
            let members = conf.voters.union(conf.votersOutgoing).union(conf.learners).union(conf.learnersNext)
            guard members.contains(step.node) else { throw RaftError(.invalidConfChange, "node \(step.node) is not a member to update") }
        }
    }

    /// Invariants of every configuration the changer returns.
    private static func check(_ conf: ConfState) throws(RaftError) {
        guard !conf.voters.isEmpty else { throw RaftError(.invalidConfChange, "no voters left") }
        precondition(conf.voters.isDisjoint(with: conf.learners), "a node is voter and learner at once")
        precondition(conf.votersOutgoing.isDisjoint(with: conf.learners), "an outgoing voter is a learner")
        precondition(conf.learnersNext.isSubset(of: conf.votersOutgoing), "learnersNext must be outgoing voters")
        precondition(conf.isJoint || conf.learnersNext.isEmpty)
    }
}
