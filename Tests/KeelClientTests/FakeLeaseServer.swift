import Foundation
import GRPCCore
import KeelProto

/// A Lease service for the client tests: keeps leases in memory (they never expire on their own),
/// answers as etcd 3.4 answers (TTL -1 for a missing lease's time to live, TTL 0 for a renewal of
/// a missing lease, NotFound for revoking one), and records every renewal and how many keepalive
/// streams are open, so a test can tell that a client closed its stream.
final class FakeLease: Etcdserverpb_Lease.SimpleServiceProtocol, @unchecked Sendable {
    // @unchecked Sendable: every mutable field is only touched with `lock` held.

    /// What the keepalive streams do once this server has answered `answers` renewals in all.
    enum KeepAliveBehaviour {
        /// Answer every renewal.
        case answerAll
        /// Fail the stream that gets the next renewal with `error`.
        case failAfter(answers: Int, error: RPCError)
        /// Read renewals and answer none, keeping the stream open: a hung server.
        case silentAfter(answers: Int)
    }

    static let clusterID: UInt64 = 7_222_109_305_586_615_858
    /// etcd's limit on a lease's TTL (`MaxLeaseTTL`, 9,000,000,000 s).
    static let ttlMax: Int64 = 9_000_000_000

    let memberID: UInt64
    let behaviour: KeepAliveBehaviour
    private let lock = NSLock()
    private var leases: [Int64: (granted: Int64, keys: [Data])] = [:]
    private var nextID: Int64 = 0x694d_71dd_acfd_a227
    private var renewals: [(id: Int64, at: ContinuousClock.Instant)] = []
    private var answered = 0
    private var streams = 0

    init(memberID: UInt64 = 17_767_816_877_210_000_001, behaviour: KeepAliveBehaviour = .answerAll) {
        self.memberID = memberID
        self.behaviour = behaviour
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private func header() -> Etcdserverpb_ResponseHeader {
        var header = Etcdserverpb_ResponseHeader()
        header.clusterID = Self.clusterID
        header.memberID = memberID
        header.revision = 1
        header.raftTerm = 2
        return header
    }

    // MARK: test controls and observations

    /// Adds a lease as if granted, with keys attached.
    func add(id: Int64, ttl: Int64, keys: [String] = []) {
        locked { leases[id] = (ttl, keys.map { Data($0.utf8) }) }
    }

    /// Drops a lease as if it expired: renewals are then answered with TTL 0.
    func expire(id: Int64) {
        _ = locked { leases.removeValue(forKey: id) }
    }

    /// When each renewal arrived, in order.
    var renewalTimes: [ContinuousClock.Instant] { locked { renewals.map(\.at) } }
    /// How many leases exist.
    var leaseCount: Int { locked { leases.count } }
    /// How many keepalive streams are open now.
    var openStreams: Int { locked { streams } }

    // MARK: the service

    func leaseGrant(request: Etcdserverpb_LeaseGrantRequest, context: ServerContext) async throws
        -> Etcdserverpb_LeaseGrantResponse
    {
        guard request.ttl <= Self.ttlMax else { throw RPCError(code: .outOfRange, message: "etcdserver: too large lease TTL") }
        var response = Etcdserverpb_LeaseGrantResponse()
        response.header = header()
        response.ttl = request.ttl
        response.id = locked {
            let id = request.id != 0 ? request.id : nextID
            nextID += 1
            leases[id] = (request.ttl, [])
            return id
        }
        return response
    }

    func leaseRevoke(request: Etcdserverpb_LeaseRevokeRequest, context: ServerContext) async throws
        -> Etcdserverpb_LeaseRevokeResponse
    {
        guard locked({ leases.removeValue(forKey: request.id) }) != nil else {
            throw RPCError(code: .notFound, message: "etcdserver: requested lease not found")
        }
        var response = Etcdserverpb_LeaseRevokeResponse()
        response.header = header()
        return response
    }

    func leaseTimeToLive(request: Etcdserverpb_LeaseTimeToLiveRequest, context: ServerContext) async throws
        -> Etcdserverpb_LeaseTimeToLiveResponse
    {
        var response = Etcdserverpb_LeaseTimeToLiveResponse()
        response.header = header()
        response.id = request.id
        if let lease = locked({ leases[request.id] }) {
            response.grantedTtl = lease.granted
            // A second has gone by since the grant, as far as this fake is concerned.
            response.ttl = lease.granted - 1
            if request.keys { response.keys = lease.keys }
        } else {
            response.ttl = -1
        }
        return response
    }

    func leaseLeases(request: Etcdserverpb_LeaseLeasesRequest, context: ServerContext) async throws
        -> Etcdserverpb_LeaseLeasesResponse
    {
        var response = Etcdserverpb_LeaseLeasesResponse()
        response.header = header()
        response.leases = locked { leases.keys.sorted() }.map { id in
            var status = Etcdserverpb_LeaseStatus()
            status.id = id
            return status
        }
        return response
    }

    private enum Step {
        case answer(Etcdserverpb_LeaseKeepAliveResponse)
        case fail(RPCError)
        case stayQuiet
    }

    private func step(for id: Int64) -> Step {
        locked {
            renewals.append((id, ContinuousClock.now))
            switch behaviour {
            case .failAfter(let count, let error) where answered >= count: return .fail(error)
            case .silentAfter(let count) where answered >= count: return .stayQuiet
            default: break
            }
            answered += 1
            var response = Etcdserverpb_LeaseKeepAliveResponse()
            response.header = header()
            response.id = id
            // etcd answers a renewal of a missing lease with TTL 0.
            response.ttl = leases[id]?.granted ?? 0
            return .answer(response)
        }
    }

    func leaseKeepAlive(
        request: RPCAsyncSequence<Etcdserverpb_LeaseKeepAliveRequest, any Error>,
        response: RPCWriter<Etcdserverpb_LeaseKeepAliveResponse>,
        context: ServerContext
    ) async throws {
        locked { streams += 1 }
        defer { locked { streams -= 1 } }
        for try await renewal in request {
            switch step(for: renewal.id) {
            case .answer(let answer): try await response.write(answer)
            case .fail(let error): throw error
            case .stayQuiet: continue
            }
        }
    }
}
