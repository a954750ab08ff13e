import KeelStorage
import KeelTransport
import Raft

// Membership changes (etcd's MemberAdd, MemberRemove, MemberUpdate, MemberPromote): one member at a
// time through the log (thesis §4.1), judged on the leader against what it knows of every member's
// replication, answered on the member that was asked once the change applied there.

extension NodeMachine {
    /// The first byte of a forwarded membership change (a forwarded write starts with the entry
    /// envelope's version, 1).
    static let forwardedMembershipMarker: UInt8 = 0x4d
    /// etcd 3.4 allows one learner at a time.
    static let learnersMax = 1
    /// A learner may be promoted once it has this share of the leader's log (etcd's 90%).
    static let promotableMatchPermille: UInt64 = 900

    /// The members as applied here.
    public var members: MemberRegistry { registry }

    /// Proposes `change` on the leader, or forwards it there. Returns the request id whose answer
    /// comes as a ``NodeOutput/memberReplies`` entry once the change applied on this member.
    public func proposeMembership(_ change: MembershipChange, deadline: Duration, into out: inout NodeOutput) throws(KeelError) -> UInt64 {
        if let halted { throw halted }
        guard membershipProposals.count < Self.membershipProposalsMax else { throw KeelError.tooManyRequests }
        let leader = raft.status.leader
        guard leader != .none else { throw KeelError.noLeader }
        var change = change
        change.origin = id
        change.requestID = nextRequestID()
        if leader == id {
            try proposeAsLeader(change)
        } else {
            let data = [Self.forwardedMembershipMarker] + change.encoded()
            out.messages.append(.proposal(ForwardedProposal(from: id, to: leader, requestID: change.requestID, data: data)))
        }
        membershipProposals[change.requestID] = PendingProposal(deadline: deadline, leader: leader)
        return change.requestID
    }

    /// At most this many membership changes wait here; one can be in the log at a time anyway.
    static let membershipProposalsMax = 16

    /// The guard rails, then the core. The registry is current: a change is refused while an
    /// earlier one is not applied, so the leader judges against the last applied membership.
    func proposeAsLeader(_ change: MembershipChange) throws(KeelError) {
        let status = raft.status
        guard status.role == .leader else { throw KeelError.noLeader }
        guard raft.pendingConfChangeApplied else {
            throw KeelError.membershipChangeInProgress
        }
        try Self.judge(change, registry: registry, conf: status.confState, replication: raft.replication, leaderLastIndex: status.lastIndex)
        do {
            try raft.proposeConfChange(change.confChange)
        } catch {
            switch error.code {
            case .confChangeInProgress:
                throw KeelError.membershipChangeInProgress
            case .invalidConfChange:
                throw KeelError(.failedPrecondition, "etcdserver: membership change refused: \(error.message)")
            default:
                throw Self.map(error)
            }
        }
    }

    /// etcd's checks and messages for a change, against the applied membership and the leader's
    /// view of replication (the strict reconfiguration check: a change must leave enough members
    /// that answer to form a quorum).
    static func judge(
        _ change: MembershipChange, registry: MemberRegistry, conf: ConfState, replication: [NodeID: ReplicationStatus],
        leaderLastIndex: LogIndex
    ) throws(KeelError) {
        let voters = conf.voters
        let activeVoters = voters.filter { replication[$0]?.recentlyActive == true }
        func quorum(_ count: Int) -> Int { count / 2 + 1 }
        switch change.action {
        case .add:
            guard !change.peerURLs.isEmpty else { throw KeelError.memberBadURLs }
            if registry.member(change.member) != nil { throw KeelError.memberExists }
            if registry.member(withPeerURLs: change.peerURLs) != nil {
                throw KeelError.peerURLExists
            }
            if change.isLearner {
                guard registry.members.filter(\.isLearner).count < learnersMax else {
                    throw KeelError.tooManyLearners
                }
            } else if activeVoters.count < quorum(voters.count + 1) && voters.count > 1 {
                // The new voter is not running yet: with it, the remaining active voters must still
                // form a quorum. A one-member cluster is the exception etcd makes too: it has no
                // other way to grow (and waits for the new member to start).
                throw KeelError.notEnoughStartedMembers
            }
        case .remove:
            guard registry.member(change.member) != nil else { throw KeelError.memberNotFound }
            if voters.contains(change.member) {
                guard voters.count > 1 else {
                    throw KeelError.lastVoter
                }
                let remaining = activeVoters.subtracting([change.member]).count
                guard remaining >= quorum(voters.count - 1) else {
                    throw KeelError.notEnoughStartedMembers
                }
            }
        case .update:
            guard !change.peerURLs.isEmpty else { throw KeelError.memberBadURLs }
            guard registry.member(change.member) != nil else { throw KeelError.memberNotFound }
            if let other = registry.member(withPeerURLs: change.peerURLs), other.id != change.member {
                throw KeelError.peerURLExists
            }
        case .promote:
            guard let member = registry.member(change.member) else { throw KeelError.memberNotFound }
            guard member.isLearner, conf.learners.contains(change.member) else {
                throw KeelError.memberNotLearner
            }
            let match = replication[change.member]?.match.rawValue ?? 0
            guard match * 1000 >= leaderLastIndex.rawValue * promotableMatchPermille else {
                throw KeelError.learnerNotReady
            }
            let activeAfter = activeVoters.count + (replication[change.member]?.recentlyActive == true ? 1 : 0)
            guard activeAfter >= quorum(voters.count + 1) else { throw KeelError.notEnoughStartedMembers }
        }
    }

    /// A follower forwarded a membership change: propose it, or tell it why not.
    func acceptForwardedMembership(_ proposal: ForwardedProposal, into out: inout NodeOutput) {
        let message: String
        var reason = ProposalRejection.Reason.other
        if let change = MembershipChange(decoding: Array(proposal.data.dropFirst())), change.origin == proposal.from {
            do {
                try proposeAsLeader(change)
                return
            } catch {
                message = error.message
                if error.code == .unavailable { reason = .notLeader }
            }
        } else {
            message = "etcdserver: undecodable membership change"
        }
        out.messages.append(
            .proposalRejected(
                ProposalRejection(
                    from: id, to: proposal.from, requestID: proposal.requestID, reason: reason, leader: raft.status.leader,
                    message: message)))
    }

    /// The change applied here (``ReadyOutcome/members``): adopt the registry; answer our caller.
    func membershipApplied(_ outcome: ReadyOutcome, into out: inout NodeOutput) {
        if let members = outcome.members, members != registry {
            registry = members
            out.membersChanged = members
        }
        for requestID in outcome.membershipResults { completeMembership(requestID, .success(()), into: &out) }
        if outcome.removedSelf { out.removedSelf = true }
    }

    func completeMembership(_ requestID: UInt64, _ result: Result<Void, KeelError>, into out: inout NodeOutput) {
        guard membershipProposals.removeValue(forKey: requestID) != nil else { return }
        out.memberReplies.append((requestID, result))
    }

    /// A refusal from the leader for a forwarded change, if it was one.
    func membershipRejected(_ rejection: ProposalRejection, into out: inout NodeOutput) -> Bool {
        guard membershipProposals[rejection.requestID] != nil else { return false }
        let error: KeelError
        switch rejection.reason {
        case .notLeader: error = KeelError.leaderChanged
        case .overloaded: error = KeelError.tooManyRequests
        case .other: error = KeelError.membership(rejection.message)
        }
        completeMembership(rejection.requestID, .failure(error), into: &out)
        return true
    }

    func expireMembership(now: Duration, into out: inout NodeOutput) {
        let leader = raft.status.leader
        for (requestID, proposal) in membershipProposals.sorted(by: { $0.key < $1.key }) where proposal.deadline <= now {
            completeMembership(requestID, .failure(proposal.leader == leader ? KeelError.timedOut : KeelError.timedOutLeaderLost), into: &out)
        }
    }

    func failMembership(_ error: KeelError, into out: inout NodeOutput) {
        for requestID in membershipProposals.keys.sorted() { completeMembership(requestID, .failure(error), into: &out) }
    }
}
