import KeelTransport
import Raft

// What the peer network reports: Raft messages, forwarded writes and their refusals, delivery reports.

extension KeelNode {
    func handle(_ event: PeerEvent) {
        guard running, halted == nil else { return }
        switch event {
        case .message(let message):
            guard message.to == id else { return }
            switch message {
            case .raft(let raftMessage): raft.step(raftMessage)
            case .proposal(let proposal): acceptForwarded(proposal)
            case .proposalRejected(let rejection): rejected(rejection)
            }
        case .unreachable(let peer):
            raft.reportUnreachable(peer)
        case .snapshotStatus(let peer, let succeeded):
            raft.reportSnapshot(peer, succeeded: succeeded)
        case .peerAttributes(let peer, let attributes):
            // Only configured members: a stranger cannot grow this map.
            if config.members.contains(where: { $0.id == peer }) { peerAttributes[peer] = attributes }
        }
        observeLeader()
        wakeReadyLoop()
    }

    /// The leader proposes a follower's write; it answers only when it cannot.
    private func acceptForwarded(_ proposal: ForwardedProposal) {
        var refusal: (ProposalRejection.Reason, String)?
        if proposal.data.count > config.maxRequestBytes + EntryEnvelope.headerBytes {
            refusal = (.other, KeelError.requestTooLarge.message)
        } else if EntryEnvelope(decoding: proposal.data) == nil {
            // Every replica would halt on it (an envelope version this node cannot read).
            refusal = (.other, "etcdserver: unsupported entry envelope version")
        } else if raft.status.role != .leader {
            refusal = (.notLeader, "etcdserver: not leader")
        } else {
            do {
                try raft.propose(proposal.data)
            } catch {
                refusal = error.code == .uncommittedLimitExceeded ? (.overloaded, KeelError.tooManyRequests.message) : (.notLeader, "\(error)")
            }
        }
        guard let (reason, message) = refusal else { return }
        network.send([
            .proposalRejected(
                ProposalRejection(
                    from: id, to: proposal.from, requestID: proposal.requestID, reason: reason, leader: raft.status.leader, message: message))
        ])
    }

    private func rejected(_ rejection: ProposalRejection) {
        let error: KeelError
        switch rejection.reason {
        case .notLeader: error = KeelError.leaderChanged
        case .overloaded: error = KeelError.tooManyRequests
        case .other: error = KeelError(.unavailable, rejection.message)
        }
        completeProposal(rejection.requestID, .failure(error))
    }
}
