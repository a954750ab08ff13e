import Foundation
import GRPCCore
import KeelProto

/// A Cluster service for the membership tests: answers every call with its own member ID in the
/// header (an add gets a member with id 99 and the URLs asked for), or fails every call with a
/// chosen status; records what it is asked.
final class FakeCluster: Etcdserverpb_Cluster.SimpleServiceProtocol, @unchecked Sendable {
    // @unchecked Sendable: `received` is the only mutable state, and every access holds `lock`.
    let memberID: UInt64
    let failure: RPCError?
    /// The id an added member gets.
    static let addedMemberID: UInt64 = 99
    private let lock = NSLock()
    private var received: [String] = []

    init(memberID: UInt64, failure: RPCError? = nil) {
        self.memberID = memberID
        self.failure = failure
    }

    /// Every call received, as "add urls=a,b learner=true", "remove 5" and so on, in order.
    var calls: [String] {
        lock.lock()
        defer { lock.unlock() }
        return received
    }

    private func answer(_ call: String) throws -> Etcdserverpb_ResponseHeader {
        lock.lock()
        received.append(call)
        lock.unlock()
        if let failure { throw failure }
        return .with {
            $0.memberID = memberID
            $0.clusterID = 1
        }
    }

    func memberAdd(request: Etcdserverpb_MemberAddRequest, context: ServerContext) async throws -> Etcdserverpb_MemberAddResponse {
        let header = try answer("add urls=\(request.peerUrls.joined(separator: ",")) learner=\(request.isLearner)")
        return .with {
            $0.header = header
            $0.member = .with {
                $0.id = Self.addedMemberID
                $0.peerUrls = request.peerUrls
                $0.isLearner = request.isLearner
            }
        }
    }

    func memberRemove(request: Etcdserverpb_MemberRemoveRequest, context: ServerContext) async throws
        -> Etcdserverpb_MemberRemoveResponse
    {
        let header = try answer("remove \(request.id)")
        return .with { $0.header = header }
    }

    func memberUpdate(request: Etcdserverpb_MemberUpdateRequest, context: ServerContext) async throws
        -> Etcdserverpb_MemberUpdateResponse
    {
        let header = try answer("update \(request.id) urls=\(request.peerUrls.joined(separator: ","))")
        return .with { $0.header = header }
    }

    func memberList(request: Etcdserverpb_MemberListRequest, context: ServerContext) async throws -> Etcdserverpb_MemberListResponse {
        let header = try answer("list")
        return .with { $0.header = header }
    }

    func memberPromote(request: Etcdserverpb_MemberPromoteRequest, context: ServerContext) async throws
        -> Etcdserverpb_MemberPromoteResponse
    {
        let header = try answer("promote \(request.id)")
        return .with { $0.header = header }
    }
}
