import KeelNode
import KeelTransport
import Logging
import Raft

/// The ids of a member of an existing cluster and the members it starts with.
public struct ExistingIdentity: Sendable, Hashable {
    /// This member's id, as the cluster assigned it (``KeelNode/addMember(peerURLs:isLearner:deadline:)``).
    public var memberID: NodeID
    /// The cluster's id.
    public var clusterID: UInt64
    /// The members as the cluster described them when this member joined.
    public var members: [MemberInfo]
}

/// How a member started with `--initial-cluster-state existing` learns who it is: on its first
/// start it asks the members named in `--initial-cluster` (over the peer port, before any
/// handshake) for the cluster's id and member list, and finds itself there by its peer URLs (as
/// etcd does); later starts read the ids its data directory was claimed with.
public enum JoinExisting {
    /// How long the first start keeps asking before giving up.
    static let askingTimeMax: Duration = .seconds(30)
    /// One attempt's time to connect and be answered.
    static let attemptTimeout: Duration = .seconds(2)

    /// The identity for `config` (which says `existing`).
    public static func identity(for config: ServerConfig, tls: PeerTLS?, logger: Logger) async throws(StartupError) -> ExistingIdentity {
        let ownURLs = Set(config.initialAdvertisePeerURLs.map(\.description))
        if let stored = KeelNode.storedIdentity(dataDirectory: config.dataDirectory) {
            let me = MemberInfo(id: stored.memberID, name: config.name, peerURLs: ownURLs.sorted())
            return ExistingIdentity(memberID: stored.memberID, clusterID: stored.clusterID, members: [me])
        }
        let others = config.initialCluster.flatMap(\.peerURLs).map(\.description).filter { !ownURLs.contains($0) }
        guard !others.isEmpty else {
            throw StartupError("--initial-cluster-state existing: --initial-cluster names no other member to join")
        }
        let clock = ContinuousClock()
        let giveUp = clock.now + askingTimeMax
        var lastError = "no answer"
        while clock.now < giveUp {
            for url in others {
                guard let address = PeerAddress(url: url) else { continue }
                do {
                    let bytes = try await TCPPeerTransport.queryMembership(at: address, tls: tls, timeout: attemptTimeout)
                    guard let (clusterID, registry) = KeelNode.decodeMembershipAnswer(bytes) else {
                        lastError = "\(url) answered something that is not a member list"
                        continue
                    }
                    guard let me = registry.member(withPeerURLs: Array(ownURLs)) else {
                        throw StartupError(
                            "this member's peer URLs \(ownURLs.sorted().joined(separator: ",")) are not in the cluster's member list "
                                + "(as \(url) sees it); add the member first (kvctl member add \(config.name) --peer-urls=...)")
                    }
                    logger.info("joining an existing cluster", metadata: ["cluster-id": "\(String(clusterID, radix: 16))", "member-id": "\(String(me.id.rawValue, radix: 16))", "asked": "\(url)"])
                    let members = registry.members.map {
                        MemberInfo(id: $0.id, name: $0.id == me.id ? config.name : $0.name, peerURLs: $0.peerURLs, isLearner: $0.isLearner)
                    }
                    return ExistingIdentity(memberID: me.id, clusterID: clusterID, members: members)
                } catch let error as StartupError {
                    throw error
                } catch {
                    lastError = "\(url): \(error)"
                }
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
        throw StartupError("--initial-cluster-state existing: cannot fetch the cluster's members from \(others.joined(separator: ",")) (\(lastError))")
    }
}
