import Foundation
import GRPCCore
import KeelNode
import KeelProto
import KeelStorage

/// etcd's `v3lockpb.Lock` service: Lock and Unlock, built on leases and watches.
///
/// A lock `name` is held by the key `name/<lease in hex>` with the lowest create revision. Lock
/// creates its key with the caller's lease, waits until every key created before it is gone, then
/// reads its own key again and answers only if it still has the same create revision: a lease that
/// expired while the caller waited deleted the key, and the lock is refused rather than granted to
/// a holder whose keys are gone (Jepsen found etcd granted it: etcd-io/etcd#11456). The key's
/// create revision is the holder's fencing token: it only grows from one holder to the next, and a
/// Txn comparing `create_revision(key) == token` guards a write on the lock still being held.
struct LockService: RegistrableRPCService {
    static let serviceName = "v3lockpb.Lock"
    /// etcd's concurrency package's text for a hold lost while waiting.
    static let sessionExpired = "mutex: session is expired"

    let waits: KeyWaits
    let route: UnaryRoute

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        let waits = waits
        route.register(&router, service: Self.serviceName, method: "Lock", waitsForOthers: true) { (request: V3lockpb_LockRequest, deadline) in
            let (key, header) = try await Self.lock(name: request.name, lease: request.lease, waits: waits, deadline: deadline)
            return V3lockpb_LockResponse.with {
                $0.header = StorageToProto.header(header)
                $0.key = Data(key)
            }
        }
        route.register(&router, service: Self.serviceName, method: "Unlock") { (request: V3lockpb_UnlockRequest, deadline) in
            guard !request.key.isEmpty else { throw RPCError(code: .invalidArgument, message: EtcdMessage.emptyKey) }
            let header = try await waits.delete(Array(request.key), deadline: deadline)
            return V3lockpb_UnlockResponse.with { $0.header = StorageToProto.header(header) }
        }
    }

    /// Acquires `name` for `lease`; returns the hold's key and the header of the read that
    /// confirmed it. On any failure after the key was written, the key is deleted again so the
    /// lock does not stay taken by a caller that gave up.
    static func lock(name: Data, lease: Int64, waits: KeyWaits, deadline: ContinuousClock.Instant) async throws -> ([UInt8], ResponseHeader) {
        guard !name.isEmpty else { throw RPCError(code: .invalidArgument, message: "lock: name is not provided") }
        guard lease != 0 else { throw RPCError(code: .invalidArgument, message: "lock: a lease is required to hold a lock (lease 0 given)") }
        let prefix = KeyWaits.prefix(name)
        let key = KeyWaits.holdKey(prefix: prefix, lease: lease)
        let revision = try await hold(key, value: [], lease: lease, waits: waits, deadline: deadline)
        do {
            try await waits.waitForPredecessors(under: prefix, before: revision, deadline: deadline)
            return (key, try await confirm(key, revision: revision, waits: waits, deadline: deadline))
        } catch {
            // Best effort, within the request timeout: the caller is gone or failed.
            _ = try? await waits.delete(key, deadline: ContinuousClock.now.advanced(by: waits.requestTimeout))
            throw error
        }
    }

    /// Writes the hold key with the lease unless it exists (a second Lock on the same lease reuses
    /// it, as etcd's does); returns its create revision.
    static func hold(_ key: [UInt8], value: [UInt8], lease: Int64, waits: KeyWaits, deadline: ContinuousClock.Instant) async throws -> Int64 {
        let request = TxnRequest(
            compare: [Compare(key: key, target: .create(0), result: .equal)],
            success: [.put(PutRequest(key: key, value: value, lease: lease))],
            failure: [.range(RangeRequest(key: key))])
        let (response, _) = try await waits.txn(request, deadline: deadline)
        if response.succeeded { return response.revision }
        guard case .range(let existing)? = response.responses.first, let current = existing.kvs.first else {
            throw RPCError(code: .internalError, message: "lock: the hold key vanished between compare and read")
        }
        return current.createRevision
    }

    /// The fencing check: the hold key still exists with the create revision written, so its lease
    /// is alive at the revision of this read; otherwise the hold was lost while waiting.
    static func confirm(_ key: [UInt8], revision: Int64, waits: KeyWaits, deadline: ContinuousClock.Instant) async throws -> ResponseHeader {
        let (response, header) = try await waits.range(RangeRequest(key: key), deadline: deadline)
        guard let current = response.kvs.first, current.createRevision == revision else {
            throw RPCError(code: .failedPrecondition, message: sessionExpired)
        }
        return header
    }
}
