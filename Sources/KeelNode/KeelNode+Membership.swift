import KeelTransport
import Raft

// The membership API (etcd's Cluster service): changes through the log, and what follows from an
// applied change here (where peer messages go; a removed member stops serving).

extension KeelNode {
    /// Adds a member that will listen on `peerURLs`, as a learner or a voter. Its id is new (a
    /// hash of its URLs, the cluster token and a random salt, so a replacement on the same URLs
    /// never reuses the id, and so the vote record, of a removed member). Returns it and the members
    /// after the change, once applied on this member.
    public func addMember(peerURLs: [String], isLearner: Bool, deadline: ContinuousClock.Instant) async throws(KeelError) -> (added: MemberInfo, members: [MemberInfo]) {
        // Sorted, as etcd stores an added member's URLs (an update keeps the order given).
        let peerURLs = peerURLs.sorted()
        try Self.checkPeerURLs(peerURLs)
        let salt = String(UInt64.random(in: 1...UInt64.max), radix: 16)
        let memberID = MemberIdentity.memberID(peerURLs: peerURLs, clusterToken: config.clusterToken + "/" + salt)
        let change = MembershipChange(action: .add, member: memberID, peerURLs: peerURLs, isLearner: isLearner)
        let members = try await changeMembership(change, deadline: deadline)
        let added = members.first { $0.id == memberID } ?? MemberInfo(id: memberID, name: "", peerURLs: peerURLs, isLearner: isLearner)
        return (added, members)
    }

    /// Removes a member. A leader asked to remove itself first hands leadership to the most
    /// caught-up voter (thesis §3.10), so the cluster does not wait an election timeout.
    public func removeMember(_ member: NodeID, deadline: ContinuousClock.Instant) async throws(KeelError) -> [MemberInfo] {
        if member == id, raft.status.role == .leader, raft.status.confState.voters.count > 1 {
            try await handOverBeforeRemoval(deadline: deadline)
        }
        return try await changeMembership(MembershipChange(action: .remove, member: member), deadline: deadline)
    }

    /// Changes a member's peer URLs.
    public func updateMember(_ member: NodeID, peerURLs: [String], deadline: ContinuousClock.Instant) async throws(KeelError) -> [MemberInfo] {
        try Self.checkPeerURLs(peerURLs)
        return try await changeMembership(MembershipChange(action: .update, member: member, peerURLs: peerURLs), deadline: deadline)
    }

    /// Makes a learner that caught up with the leader a voter.
    public func promoteMember(_ member: NodeID, deadline: ContinuousClock.Instant) async throws(KeelError) -> [MemberInfo] {
        try await changeMembership(MembershipChange(action: .promote, member: member), deadline: deadline)
    }

    /// Refuses a URL the transport could not dial.
    static func checkPeerURLs(_ peerURLs: [String]) throws(KeelError) {
        for url in peerURLs where PeerAddress(url: url) == nil {
            throw KeelError(.invalidArgument, "etcdserver: given member URLs are invalid: '\(url)' has no host and port")
        }
    }

    /// Proposes (or forwards) `change` and waits until it applied here (``checkServing(deadline:)``
    /// refuses on a removed member).
    func changeMembership(_ change: MembershipChange, deadline: ContinuousClock.Instant) async throws(KeelError) -> [MemberInfo] {
        try checkServing(deadline: deadline)
        guard await awaitLeader(deadline: deadline) else { throw unavailableReason() }
        try checkServing(deadline: deadline)
        var out = NodeOutput()
        let requestID = try machine.proposeMembership(change, deadline: machineTime(deadline), into: &out)
        perform(out)
        wakeReadyLoop()
        let result = await withCheckedContinuation { memberWaiters[requestID] = $0 }
        try result.get()
        logger.info(
            "membership changed",
            metadata: [
                "member": "\(DataDirectory.hex(id.rawValue))", "action": "\(change.action)",
                "target": "\(DataDirectory.hex(change.member.rawValue))",
            ])
        return members().members
    }

    /// Hands leadership to the voter with the longest log, and waits (until `deadline`) for it to lead.
    func handOverBeforeRemoval(deadline: ContinuousClock.Instant) async throws(KeelError) {
        let replication = machine.raft.replication
        let candidates = raft.status.confState.voters.filter { $0 != id }
        func rank(_ voter: NodeID) -> (UInt64, UInt64) { ((replication[voter]?.match ?? .zero).rawValue, voter.rawValue) }
        guard let target = candidates.max(by: { rank($0) < rank($1) }) else { return }
        do { try machine.transferLeadership(to: target) } catch { throw NodeMachine.map(error) }
        wakeReadyLoop()
        while raft.status.leader == id || raft.status.leader == .none {
            guard clock.now < deadline, running else { throw KeelError.leaderTransferTimedOut }
            try? await Task.sleep(for: config.tickInterval)
        }
    }

    /// An applied change: send to the members where they now listen.
    func membersChanged(_ members: MemberRegistry) {
        sendToPeers(of: members)
        peerAttributes = peerAttributes.filter { members.member($0.key) != nil }
    }

    /// A change removing this member applied: it stops serving, and says so on every later start
    /// (the mark in its data directory), as etcd refuses to start a removed member.
    func removedFromCluster() {
        guard !removed else { return }
        removed = true
        do {
            try DataDirectory.markRemoved(config.dataDirectory)
        } catch {
            logger.info("could not mark the data directory as removed", metadata: ["error": "\(error)"])
        }
        logger.info("the member has been permanently removed from the cluster", metadata: ["member": "\(DataDirectory.hex(id.rawValue))"])
        for waiter in removalWaiters.values { waiter.resume() }
        removalWaiters = [:]
    }

    /// Points the network at every other member's first peer URL.
    func sendToPeers(of members: MemberRegistry) {
        var peers: [NodeID: PeerAddress] = [:]
        for member in members.members where member.id != id {
            if let address = member.peerURLs.lazy.compactMap(PeerAddress.init(url:)).first { peers[member.id] = address }
        }
        network.setPeers(peers)
    }

    /// Whether an applied change removed this member.
    public var isRemoved: Bool { removed }

    /// Returns once an applied change removed this member (the server then exits, as etcd does),
    /// or when the calling task is cancelled.
    public func waitUntilRemoved() async {
        if removed { return }
        removalWaitCount &+= 1
        let waiterID = removalWaitCount
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if removed || Task.isCancelled { return continuation.resume() }
                removalWaiters[waiterID] = continuation
            }
        } onCancel: {
            Task { await self.endRemovalWait(waiterID) }
        }
    }

    private func endRemovalWait(_ waiterID: UInt64) {
        removalWaiters.removeValue(forKey: waiterID)?.resume()
    }
}

extension KeelNode {
    /// What this member tells a member about to join: the cluster's id and the members
    /// (`clusterID u64 | MemberRegistry`).
    public func membershipAnswer() -> [UInt8] {
        var bytes: [UInt8] = []
        appendBigEndian(clusterID, to: &bytes)
        return bytes + machine.members.encoded()
    }

    /// Decodes ``membershipAnswer()``; nil for anything else.
    public nonisolated static func decodeMembershipAnswer(_ bytes: [UInt8]) -> (clusterID: UInt64, members: MemberRegistry)? {
        guard bytes.count > 8, let members = MemberRegistry(decoding: Array(bytes[8...])) else { return nil }
        return (readBigEndian(bytes, at: 0), members)
    }

    /// The cluster and member a data directory belongs to, if it was ever used.
    public nonisolated static func storedIdentity(dataDirectory: String) -> (clusterID: UInt64, memberID: NodeID)? {
        DataDirectory.storedIdentity(dataDirectory)
    }
}
