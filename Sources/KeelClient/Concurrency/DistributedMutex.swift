public import Foundation
import Synchronization

/// A lock that was granted: its key and the fencing token.
public struct HeldLock: Sendable, Equatable {
    /// The lock's key: the prefix, "/", and the session's lease in hexadecimal.
    public var key: Data
    /// The key's create revision. It only grows from one holder to the next, so a store that
    /// remembers the largest token it saw can refuse a stale holder; ``KeelClient/fencedTxn(lockKey:fencingToken:operations:)``
    /// does it in etcd itself.
    public var fencingToken: Int64

    /// The key as text.
    public var keyText: String { String(decoding: key, as: UTF8.self) }
}

/// A lock under a key prefix, owned by a ``Session`` (etcd's `concurrency.Mutex`).
///
/// ``lock()`` writes `prefix/<lease>` with the session's lease unless it exists, waits until every
/// key under the prefix created before it is deleted, then confirms in a transaction that its own
/// key still exists with the same create revision before it returns: a lock whose lease expired
/// while it waited is refused with ``KeelClientError/Kind/lockLost`` instead of granted (etcd 3.4's
/// client grants it, etcd-io/etcd#11456).
///
/// Holding a lock is a belief, not a guarantee: the lease can expire while the holder is paused.
/// Guard writes with ``HeldLock/fencingToken``.
public final class DistributedMutex: Sendable {
    /// The session whose lease owns the lock's key.
    public let session: Session
    /// The prefix the waiters queue under, with a trailing "/".
    public let prefix: Data
    private let held = Mutex<HeldLock?>(nil)

    /// A lock named `name`; its keys are `name/<lease>`, as etcdctl's `lock NAME`.
    public init(session: Session, name: String) {
        self.session = session
        self.prefix = Data((name + "/").utf8)
    }

    /// The lock while held by this mutex.
    public var current: HeldLock? { held.withLock { $0 } }

    /// Waits until the lock is granted and returns it. When this fails or the task is cancelled,
    /// the key is deleted again, so no other waiter is held up by it.
    public func lock() async throws -> HeldLock {
        let client = session.client
        let key = prefix + Data(session.leaseHex.utf8)
        var request = TxnRequest()
        request.compare = [Requests.createRevision(of: key, equals: 0)]
        request.success = [Requests.put(key, Data(), lease: session.lease)]
        request.failure = [Requests.get(key)]
        let answer = try await client.txn(request)
        let revision: Int64
        if answer.succeeded {
            revision = answer.header.revision
        } else {
            // The session already queued this key (a retried lock): keep its place.
            guard let existing = answer.responses.first?.responseRange.kvs.first else {
                throw KeelClientError(code: .aborted, message: KeelClientError.lockLostMessage)
            }
            revision = existing.createRevision
        }
        do {
            try await client.waitDeletes(prefix: prefix, before: revision - 1)
            try Task.checkCancellation()
            // Confirm: the key may have gone with its lease while this waited.
            var confirm = TxnRequest()
            confirm.compare = [Requests.createRevision(of: key, equals: revision)]
            let confirmed = try await client.txn(confirm)
            guard confirmed.succeeded else {
                throw KeelClientError(code: .aborted, message: KeelClientError.lockLostMessage)
            }
        } catch {
            await client.uncancelled { _ = try await client.txn(Self.deleteRequest(key, revision: revision)) }
            throw error
        }
        let lock = HeldLock(key: key, fencingToken: revision)
        held.withLock { $0 = lock }
        return lock
    }

    /// Releases the lock: deletes its key if it is still this holder's. Not holding it is no error.
    public func unlock() async throws {
        guard let lock = held.withLock({ $0 }) else { return }
        _ = try await session.client.txn(Self.deleteRequest(lock.key, revision: lock.fencingToken))
        held.withLock { $0 = nil }
    }

    /// A transaction deleting `key` only if it still has `revision` as its create revision, so a
    /// late release never deletes a later holder's key.
    static func deleteRequest(_ key: Data, revision: Int64) -> TxnRequest {
        var request = TxnRequest()
        request.compare = [Requests.createRevision(of: key, equals: revision)]
        request.success = [Requests.delete(key)]
        return request
    }

    /// Runs `operations` only while this lock is still held (see ``KeelClient/fencedTxn(lockKey:fencingToken:operations:)``).
    public func fencedTxn(_ operations: [RequestOp]) async throws -> FencedTxnResult {
        guard let lock = current else {
            preconditionFailure("fencedTxn needs the lock: call lock() first")
        }
        return try await session.client.fencedTxn(lockKey: lock.key, fencingToken: lock.fencingToken, operations: operations)
    }
}
