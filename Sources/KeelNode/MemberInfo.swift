import Raft

/// One member as configured (from `--initial-cluster`, or learned from the member itself).
public struct MemberInfo: Sendable, Hashable {
    /// The member's id, derived from its peer URLs and the cluster token (``MemberIdentity``).
    public var id: NodeID
    /// The member's human-readable name (`--name`).
    public var name: String
    /// Where its peers reach it, for example "http://127.0.0.1:2380".
    public var peerURLs: [String]
    /// Where it serves clients: known for this node; for a peer, empty until it introduced itself
    /// (``KeelTransport/PeerEvent/peerAttributes(_:_:)``).
    public var clientURLs: [String]
    /// Whether it is a non-voting member.
    public var isLearner: Bool

    /// Creates a member description.
    public init(id: NodeID, name: String, peerURLs: [String], clientURLs: [String] = [], isLearner: Bool = false) {
        self.id = id
        self.name = name
        self.peerURLs = peerURLs
        self.clientURLs = clientURLs
        self.isLearner = isLearner
    }
}

/// etcd-like identities: stable across restarts and identical on every member, because they are
/// hashes of the configuration every member is started with, never random.
public enum MemberIdentity {
    private static let fnvOffsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    private static let fnvPrime: UInt64 = 0x0000_0100_0000_01b3

    /// A member's id: FNV-1a (64 bit) of its sorted peer URLs and the cluster token. Never zero
    /// (zero means "nobody" to Raft).
    public static func memberID(peerURLs: [String], clusterToken: String) -> NodeID {
        var hash = fnvOffsetBasis
        for url in peerURLs.sorted() { mix(Array(url.utf8) + [0], into: &hash) }
        mix(Array(clusterToken.utf8), into: &hash)
        return NodeID(hash == 0 ? 1 : hash)
    }

    /// The cluster's id: FNV-1a (64 bit) of the sorted member ids and the cluster token.
    public static func clusterID(memberIDs: [NodeID], clusterToken: String) -> UInt64 {
        var hash = fnvOffsetBasis
        for id in memberIDs.sorted() {
            mix((0..<8).map { UInt8(truncatingIfNeeded: id.rawValue >> (56 - 8 * $0)) }, into: &hash)
        }
        mix(Array(clusterToken.utf8), into: &hash)
        return hash == 0 ? 1 : hash
    }

    private static func mix(_ bytes: [UInt8], into hash: inout UInt64) {
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* fnvPrime
        }
    }
}
