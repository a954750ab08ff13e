import Foundation
import Synchronization

/// A lease kept alive in the background, the owner of a ``DistributedMutex``'s or an
/// ``Election``'s keys (etcd's `concurrency.Session`): when the session's process dies, its lease
/// expires after the TTL and its keys go with it.
///
/// Start one with ``start(client:ttl:)`` and end it with ``close()``, which revokes the lease (so
/// its locks are released at once). ``lost()`` returns when the lease could not be kept alive: from
/// then on every lock and leadership of this session may be gone.
public final class Session: Sendable {
    /// The client the session uses.
    public let client: KeelClient
    /// The session's lease.
    public let lease: Int64
    /// The lease's TTL in seconds.
    public let ttl: Int64
    private let renewals: Task<KeelClientError?, Never>
    private let closed = Mutex(false)

    /// etcd's default session TTL, in seconds.
    public static let ttlSecondsDefault: Int64 = 60

    private init(client: KeelClient, lease: Int64, ttl: Int64, renewals: Task<KeelClientError?, Never>) {
        self.client = client
        self.lease = lease
        self.ttl = ttl
        self.renewals = renewals
    }

    /// Grants a lease of `ttl` seconds and keeps it alive until ``close()`` or until it is lost.
    public static func start(client: KeelClient, ttl: Int64 = ttlSecondsDefault) async throws -> Session {
        precondition(ttl > 0, "a session's TTL is positive")
        let granted = try await client.leaseGrant(ttl: ttl)
        let keepAlive = client.keepAlive(id: granted.id)
        // Unstructured, as the session outlives this call; ``close()`` cancels it.
        let renewals = Task { () -> KeelClientError? in
            do {
                for try await _ in keepAlive {}
                return nil
            } catch let error as KeelClientError {
                return error
            } catch {
                return KeelClientError(code: .unknown, message: "\(error)")
            }
        }
        return Session(client: client, lease: granted.id, ttl: granted.ttl, renewals: renewals)
    }

    /// Waits until the lease is lost and returns why: expired or revoked (``KeelClientError/Kind/leaseNotFound``),
    /// or not renewed in time (``KeelClientError/Kind/deadlineExceeded``). Nil once ``close()`` was called.
    public func lost() async -> KeelClientError? {
        let error = await renewals.value
        return closed.withLock { $0 } ? nil : error
    }

    /// Stops the renewals and revokes the lease, deleting every key of the session (its locks and
    /// campaigns). A lease already gone is not an error.
    public func close() async throws {
        closed.withLock { $0 = true }
        renewals.cancel()
        _ = await renewals.value
        do {
            _ = try await client.leaseRevoke(id: lease)
        } catch let error as KeelClientError where error.kind == .leaseNotFound {}
    }

    /// The lease as etcd's concurrency package writes it in keys: lowercase hexadecimal, no padding.
    var leaseHex: String { String(UInt64(bitPattern: lease), radix: 16) }
}
