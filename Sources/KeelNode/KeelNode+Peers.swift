import KeelStorage
import KeelTransport
import Raft

// What the peer network reports: Raft messages, forwarded writes and their refusals, delivery reports.

extension KeelNode {
    /// Hands peer events to the actor in order. A snapshot whose image does not decode is dropped
    /// here, off the actor (reading a large image takes time): stepped into the core, it would be
    /// adopted and then halt this node when storage refuses to install it. The leader sends it
    /// again later; a correct one gets through.
    nonisolated func consume(_ events: AsyncStream<PeerEvent>) async {
        for await event in events {
            if case .message(.raft(let message)) = event, let reason = Self.invalidSnapshot(message) {
                logger.info(
                    "dropped an undecodable snapshot",
                    metadata: ["member": "\(DataDirectory.hex(id.rawValue))", "from": "\(DataDirectory.hex(message.from.rawValue))", "error": "\(reason)"])
                continue
            }
            await handle(event)
        }
    }

    /// Why `message` carries a snapshot image that storage would refuse, or nil.
    nonisolated static func invalidSnapshot(_ message: Message) -> (any Error)? {
        guard message.type == .installSnapshot, let snapshot = message.snapshot else { return nil }
        if snapshot.data.isEmpty {
            // Only the founding snapshot is empty (see ReadyWork.install).
            return snapshot.metadata.index == LogIndex(1)
                ? nil : StorageError(.snapshotInvalid, "snapshot at index \(snapshot.metadata.index) carries no image")
        }
        do {
            let receiver = try SnapshotData.receiver(for: snapshot.data)
            guard let header = receiver.header, header.appliedIndex == snapshot.metadata.index else {
                return StorageError(.snapshotInvalid, "snapshot for index \(snapshot.metadata.index) carries state applied through \(receiver.header?.appliedIndex.description ?? "nothing")")
            }
            return nil
        } catch {
            return error
        }
    }

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
