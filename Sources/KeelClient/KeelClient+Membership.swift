import Foundation
public import KeelProto

// etcd's Cluster calls that change the membership. None of them may be repeated blindly once it may
// have reached a server: a second add of the same URLs fails ("Peer URLs already exists") after the
// first one succeeded, a second remove or promote fails with "member not found" or "can only promote
// a learner member", and an update repeated late can undo a newer one. So each is a `.mutation`:
// passed to another endpoint only when it certainly was not taken (no connection, or etcd's "no
// leader" / "not leader", which say nothing was proposed), which is when repeating it is safe.
extension KeelClient {
    /// Adds a member with these peer URLs (`Cluster.MemberAdd`), as a voter or, with `isLearner`, as a
    /// learner that receives the log but does not vote until promoted. The answer holds the new
    /// member (its id is the server's choice) and the members after the change. URLs that etcd's
    /// client would refuse (see ``PeerURLs/problem(in:)``) are refused before anything is sent.
    public func memberAdd(peerURLs: [String], isLearner: Bool = false) async throws -> Etcdserverpb_MemberAddResponse {
        try Self.checkPeerURLs(peerURLs)
        let request = Etcdserverpb_MemberAddRequest.with {
            $0.peerUrls = peerURLs
            $0.isLearner = isLearner
        }
        return try await call(.mutation) { grpc, options in
            try await Etcdserverpb_Cluster.Client(wrapping: grpc).memberAdd(request, options: options)
        }
    }

    /// Removes the member `id` (`Cluster.MemberRemove`); the answer lists the members left.
    public func memberRemove(id: UInt64) async throws -> Etcdserverpb_MemberRemoveResponse {
        let request = Etcdserverpb_MemberRemoveRequest.with { $0.id = id }
        return try await call(.mutation) { grpc, options in
            try await Etcdserverpb_Cluster.Client(wrapping: grpc).memberRemove(request, options: options)
        }
    }

    /// Replaces the peer URLs of the member `id` (`Cluster.MemberUpdate`); the answer lists the
    /// members after the change. URLs are checked as for ``memberAdd(peerURLs:isLearner:)``.
    public func memberUpdate(id: UInt64, peerURLs: [String]) async throws -> Etcdserverpb_MemberUpdateResponse {
        try Self.checkPeerURLs(peerURLs)
        let request = Etcdserverpb_MemberUpdateRequest.with {
            $0.id = id
            $0.peerUrls = peerURLs
        }
        return try await call(.mutation) { grpc, options in
            try await Etcdserverpb_Cluster.Client(wrapping: grpc).memberUpdate(request, options: options)
        }
    }

    /// Makes the learner `id` a voter (`Cluster.MemberPromote`). etcd refuses a member that is not a
    /// learner, and a learner whose log is not yet close to the leader's.
    public func memberPromote(id: UInt64) async throws -> Etcdserverpb_MemberPromoteResponse {
        let request = Etcdserverpb_MemberPromoteRequest.with { $0.id = id }
        return try await call(.mutation) { grpc, options in
            try await Etcdserverpb_Cluster.Client(wrapping: grpc).memberPromote(request, options: options)
        }
    }

    /// Fails fast on URLs the server would refuse anyway, as etcd's client does, so that a typo
    /// costs no round trip and nothing is proposed.
    private static func checkPeerURLs(_ urls: [String]) throws {
        if let problem = PeerURLs.problem(in: urls) {
            throw KeelClientError(code: .invalidArgument, message: problem, mayHaveReachedServer: false)
        }
    }
}
