import Foundation
import GRPCCore
import KeelNode
import KeelStorage

/// The reads, writes and waits that locks and elections are made of (etcd builds both from its
/// `concurrency` package on its own client; Keel serves them from the node directly). Each node
/// call is bounded by the request timeout as well as by the caller's deadline; only waiting for
/// another holder to let go lasts as long as the caller is willing to wait.
struct KeyWaits: Sendable {
    let node: KeelNode
    let requestTimeout: Duration

    func callDeadline(_ deadline: ContinuousClock.Instant) -> ContinuousClock.Instant {
        min(deadline, ContinuousClock.now.advanced(by: requestTimeout))
    }

    func txn(_ request: TxnRequest, deadline: ContinuousClock.Instant) async throws -> (TxnResponse, ResponseHeader) {
        try await node.txn(request, deadline: callDeadline(deadline))
    }

    func range(_ request: RangeRequest, deadline: ContinuousClock.Instant) async throws -> (RangeResponse, ResponseHeader) {
        try await node.range(request, serializable: false, deadline: callDeadline(deadline))
    }

    func delete(_ key: [UInt8], deadline: ContinuousClock.Instant) async throws -> ResponseHeader {
        try await node.deleteRange(DeleteRangeRequest(key: key), deadline: callDeadline(deadline)).1
    }

    /// The holder of the key with the highest create revision below `revision` under `prefix` (the
    /// one to wait for), or nil when none is left, with the revision the read was served at.
    func predecessor(under prefix: [UInt8], before revision: Int64, deadline: ContinuousClock.Instant) async throws -> (KeyValue?, Int64) {
        let (response, header) = try await range(.prefix(prefix), deadline: deadline)
        let earlier = response.kvs.filter { $0.createRevision < revision }
        return (earlier.max { $0.createRevision < $1.createRevision }, header.revision)
    }

    /// The key with the lowest create revision under `prefix`: the lock holder or election leader.
    func first(under prefix: [UInt8], deadline: ContinuousClock.Instant) async throws -> (KeyValue?, ResponseHeader) {
        let (response, header) = try await range(.prefix(prefix), deadline: deadline)
        return (response.kvs.min { $0.createRevision < $1.createRevision }, header)
    }

    /// Waits until every key under `prefix` created before `revision` is gone (etcd's
    /// `waitDeletes`): for the newest of them, then again, so that a waiter wakes only when all
    /// earlier holders have let go, and never two waiters at once.
    func waitForPredecessors(under prefix: [UInt8], before revision: Int64, deadline: ContinuousClock.Instant) async throws {
        while true {
            let (predecessor, readAt) = try await predecessor(under: prefix, before: revision, deadline: deadline)
            guard let predecessor else { return }
            _ = try await nextChange(
                WatchSpec(key: predecessor.key, startRevision: readAt + 1, skipPuts: true), deadline: deadline)
        }
    }

    /// Waits for the first change a watcher with `spec` reports; nil when its history was compacted
    /// before anything was reported (the caller reads again). Ends with deadlineExceeded at
    /// `deadline`, with Unavailable when the node stops.
    func nextChange(_ spec: WatchSpec, deadline: ContinuousClock.Instant) async throws -> KVEvent? {
        let stream: WatchStream
        do throws(WatchRefusal) { stream = try node.watchHub.openStream() } catch {
            throw RPCError(code: .resourceExhausted, message: error.message)
        }
        defer { stream.close() }
        stream.create(spec)
        let node = node
        return try await withThrowingTaskGroup(of: KVEvent?.self) { group in
            group.addTask {
                for await _ in stream.wakeups {
                    while let (outputs, catchUps) = stream.drain(), !(outputs.isEmpty && catchUps.isEmpty) {
                        for output in outputs {
                            switch output {
                            case .events(_, _, let events): if let first = events.first { return first }
                            case .canceled: return nil
                            case .refused(_, _, let reason): throw RPCError(code: .resourceExhausted, message: reason)
                            case .created, .progress: break
                            }
                        }
                        try await node.catchUp(catchUps)
                    }
                }
                throw RPCError(code: .unavailable, message: "etcdserver: server stopped")
            }
            group.addTask {
                try await Task.sleep(until: deadline, clock: .continuous)
                throw RPCError(code: .deadlineExceeded, message: EtcdMessage.deadlineExceeded)
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// `name` followed by the lease in lower-case hex: etcd's key for a session's hold on a lock
    /// or an election (`name/694d71ddacfda227`).
    static func holdKey(prefix: [UInt8], lease: Int64) -> [UInt8] {
        prefix + Array(String(UInt64(bitPattern: lease), radix: 16).utf8)
    }

    /// etcd's prefix for a lock or election name: the name and a slash.
    static func prefix(_ name: Data) -> [UInt8] { Array(name) + Array("/".utf8) }
}
