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
    private let ending: SessionEnding

    /// etcd's default session TTL, in seconds.
    public static let ttlSecondsDefault: Int64 = 60

    private init(
        client: KeelClient, lease: Int64, ttl: Int64, renewals: Task<KeelClientError?, Never>, ending: SessionEnding
    ) {
        self.client = client
        self.lease = lease
        self.ttl = ttl
        self.renewals = renewals
        self.ending = ending
    }

    /// Grants a lease of `ttl` seconds and keeps it alive until ``close()`` or until it is lost.
    public static func start(client: KeelClient, ttl: Int64 = ttlSecondsDefault) async throws -> Session {
        precondition(ttl > 0, "a session's TTL is positive")
        let granted = try await client.leaseGrant(ttl: ttl)
        let keepAlive = client.keepAlive(id: granted.id)
        let ending = SessionEnding()
        // Unstructured, as the session outlives this call; ``close()`` cancels it.
        let renewals = Task { () -> KeelClientError? in
            let outcome: KeelClientError?
            do {
                for try await _ in keepAlive {}
                outcome = nil
            } catch let failure as KeelClientError {
                outcome = failure
            } catch {
                outcome = KeelClientError(code: .unknown, message: "\(error)")
            }
            ending.end(outcome)
            return outcome
        }
        return Session(client: client, lease: granted.id, ttl: granted.ttl, renewals: renewals, ending: ending)
    }

    /// Waits until the lease is lost and returns why: expired or revoked (``KeelClientError/Kind/leaseNotFound``),
    /// or not renewed in time (``KeelClientError/Kind/deadlineExceeded``). Nil once ``close()`` was
    /// called, or when the waiting task is cancelled.
    public func lost() async -> KeelClientError? {
        let error = await ending.wait()
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

/// When a session's renewals ended and why, for any number of waiters that may be cancelled.
final class SessionEnding: Sendable {
    private struct State {
        /// Set once the renewals ended: the error, or nil when they were stopped.
        var ended: KeelClientError?? = nil
        var waiters: [UUID: CheckedContinuation<KeelClientError?, Never>] = [:]
    }

    private let state = Mutex(State())

    func end(_ error: KeelClientError?) {
        let waiters = state.withLock { state in
            state.ended = .some(error)
            defer { state.waiters = [:] }
            return state.waiters
        }
        for waiter in waiters.values { waiter.resume(returning: error) }
    }

    func wait() async -> KeelClientError? {
        let id = UUID()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<KeelClientError?, Never>) in
                let now: KeelClientError?? = state.withLock { state in
                    if let ended = state.ended { return .some(ended) }
                    if Task.isCancelled { return .some(nil) }
                    state.waiters[id] = continuation
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(returning: nil)
        }
    }
}
