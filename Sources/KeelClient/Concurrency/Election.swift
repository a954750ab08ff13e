public import Foundation
import Synchronization

/// A leader election under a key prefix, with the campaigners' keys owned by a ``Session``
/// (etcd's `concurrency.Election`): the campaigner whose key was created first leads, and its
/// key's value is the leader's proclamation.
public final class Election: Sendable {
    /// The session whose lease owns this campaigner's key.
    public let session: Session
    /// The prefix the campaigners queue under, with a trailing "/".
    public let prefix: Data
    private let leadership = Mutex<HeldLock?>(nil)

    /// An election named `name`; keys are `name/<lease>`, as etcdctl's `elect NAME`.
    public init(session: Session, name: String) {
        self.session = session
        self.prefix = Data((name + "/").utf8)
    }

    /// This campaigner's key and its create revision while it leads.
    public var current: HeldLock? { leadership.withLock { $0 } }

    /// Puts `value` as a candidacy and waits until it leads, then confirms that its key still
    /// exists (its lease may have expired while it waited), as ``DistributedMutex/lock()`` does.
    /// When this fails or the task is cancelled, the candidacy is withdrawn.
    public func campaign(_ value: Data) async throws {
        let client = session.client
        let key = prefix + Data(session.leaseHex.utf8)
        var request = TxnRequest()
        request.compare = [Requests.createRevision(of: key, equals: 0)]
        request.success = [Requests.put(key, value, lease: session.lease)]
        request.failure = [Requests.get(key)]
        let answer = try await client.txn(request)
        var revision = answer.header.revision
        if !answer.succeeded {
            guard let existing = answer.responses.first?.responseRange.kvs.first else {
                throw KeelClientError(code: .aborted, message: KeelClientError.lockLostMessage)
            }
            revision = existing.createRevision
            if existing.value != value {
                _ = try await client.txn(Self.proclamation(key, value, revision: revision, lease: session.lease))
            }
        }
        do {
            try await client.waitDeletes(prefix: prefix, before: revision - 1)
            try Task.checkCancellation()
            var confirm = TxnRequest()
            confirm.compare = [Requests.createRevision(of: key, equals: revision)]
            guard try await client.txn(confirm).succeeded else {
                throw KeelClientError(code: .aborted, message: KeelClientError.lockLostMessage)
            }
        } catch {
            let queued = revision
            await client.uncancelled { _ = try await client.txn(DistributedMutex.deleteRequest(key, revision: queued)) }
            throw error
        }
        leadership.withLock { $0 = HeldLock(key: key, fencingToken: revision) }
    }

    /// ``campaign(_:)`` with UTF-8 text.
    public func campaign(_ value: String) async throws { try await campaign(Data(value.utf8)) }

    /// Replaces the leader's value without an election; fails with
    /// ``KeelClientError/Kind/notElectionLeader`` when this campaigner no longer leads.
    public func proclaim(_ value: Data) async throws {
        guard let held = current else {
            throw KeelClientError(code: .failedPrecondition, message: KeelClientError.notElectionLeaderMessage)
        }
        let answer = try await session.client.txn(
            Self.proclamation(held.key, value, revision: held.fencingToken, lease: session.lease))
        guard answer.succeeded else {
            leadership.withLock { $0 = nil }
            throw KeelClientError(code: .failedPrecondition, message: KeelClientError.notElectionLeaderMessage)
        }
    }

    /// ``proclaim(_:)`` with UTF-8 text.
    public func proclaim(_ value: String) async throws { try await proclaim(Data(value.utf8)) }

    /// Gives up leadership: deletes this campaigner's key if it is still the one it created.
    public func resign() async throws {
        guard let held = current else { return }
        _ = try await session.client.txn(DistributedMutex.deleteRequest(held.key, revision: held.fencingToken))
        leadership.withLock { $0 = nil }
    }

    /// The current leader's key-value; fails with ``KeelClientError/Kind/electionNoLeader`` when none leads.
    public func leader() async throws -> KeyValue {
        let answer = try await session.client.range(Requests.ownerRange(prefix: prefix))
        guard let owner = answer.kvs.first else {
            throw KeelClientError(code: .notFound, message: KeelClientError.electionNoLeaderMessage)
        }
        return owner
    }

    /// Every leader and proclamation from now on; see ``ElectionObservation``.
    public func observe() -> ElectionObservation {
        ElectionObservation(client: session.client, prefix: prefix)
    }

    static func proclamation(_ key: Data, _ value: Data, revision: Int64, lease: Int64) -> TxnRequest {
        var request = TxnRequest()
        request.compare = [Requests.createRevision(of: key, equals: revision)]
        request.success = [Requests.put(key, value, lease: lease)]
        return request
    }
}

/// The leaders of an election as they come (etcd's `Election.Observe`): the current leader's
/// key-value first (once one exists), then each new value it proclaims and each later leader.
/// Nothing is yielded while no one leads. It reads on demand: nothing is buffered beyond one
/// watch response. It ends only by throwing (a watch failure) or when the reading task is cancelled.
public struct ElectionObservation: AsyncSequence, Sendable {
    /// A leader's key and value.
    public typealias Element = KeyValue

    let client: KeelClient
    let prefix: Data

    /// Makes an iterator; each iterator observes on its own.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(client: client, prefix: prefix)
    }

    /// Reads leaders in order.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let client: KeelClient
        let prefix: Data
        /// The watch on the current leader's key, and its key.
        var leaderWatch: (key: Data, iterator: WatchStream.AsyncIterator)?
        /// Leader values of one watch response not yet returned.
        var pending: [KeyValue] = []

        /// The next leader or proclamation; nil when the task is cancelled.
        public mutating func next() async throws -> KeyValue? {
            while true {
                if !pending.isEmpty { return pending.removeFirst() }
                if Task.isCancelled { return nil }
                guard var current = leaderWatch else {
                    guard let leader = try await findLeader() else { return nil }
                    return leader
                }
                guard let response = try await current.iterator.next() else { return nil }
                leaderWatch = current
                for event in response.events {
                    if event.type == .delete {
                        // The leader resigned or its lease ended: look for the next one.
                        leaderWatch = nil
                        break
                    }
                    pending.append(event.kv)
                }
            }
        }

        /// The current leader (waiting for one if there is none), with a watch on its key set up.
        private mutating func findLeader() async throws -> KeyValue? {
            let answer = try await client.range(Requests.ownerRange(prefix: prefix))
            var leader = answer.kvs.first
            if leader == nil {
                // No one leads: the first key put under the prefix will.
                var options = WatchOptions.prefix(of: prefix)
                options.startRevision = answer.header.revision + 1
                options.noDelete = true
                for try await response in client.watch(prefix, options: options) {
                    if let first = response.events.first {
                        leader = first.kv
                        break
                    }
                }
            }
            guard let leader else { return nil }
            var options = WatchOptions()
            options.startRevision = leader.modRevision + 1
            leaderWatch = (leader.key, client.watch(leader.key, options: options).makeAsyncIterator())
            return leader
        }
    }
}
