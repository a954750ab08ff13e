import Foundation
import KeelProto

// The requests shared by locks and elections: both queue their keys under a prefix in the order
// of their create revisions, and the owner is the key created first.

enum Requests {
    /// A comparison of a key's create revision (0: the key does not exist).
    static func createRevision(of key: Data, equals revision: Int64) -> Compare {
        var compare = Compare()
        compare.key = key
        compare.target = .create
        compare.result = .equal
        compare.createRevision = revision
        return compare
    }

    static func put(_ key: Data, _ value: Data, lease: Int64) -> RequestOp {
        var put = PutRequest()
        put.key = key
        put.value = value
        put.lease = lease
        var op = RequestOp()
        op.requestPut = put
        return op
    }

    static func get(_ key: Data) -> RequestOp {
        var range = RangeRequest()
        range.key = key
        var op = RequestOp()
        op.requestRange = range
        return op
    }

    static func delete(_ key: Data) -> RequestOp {
        var delete = DeleteRangeRequest()
        delete.key = key
        var op = RequestOp()
        op.requestDeleteRange = delete
        return op
    }

    /// The first-created key under `prefix` (the owner), or with `before` the last-created key
    /// whose create revision is at most `before` (the one to wait for).
    static func ownerRange(prefix: Data, before: Int64? = nil) -> RangeRequest {
        var range = RangeRequest()
        range.key = prefix
        range.rangeEnd = KeyRange.prefixEnd(prefix)
        range.sortTarget = .create
        range.limit = 1
        if let before {
            range.sortOrder = .descend
            range.maxCreateRevision = before
        } else {
            range.sortOrder = .ascend
        }
        return range
    }
}

extension KeelClient {
    /// Waits until no key under `prefix` has a create revision of `before` or less: each time the
    /// newest such key is deleted, as etcd's `waitDeletes` does (one watcher at a time, no herd).
    func waitDeletes(prefix: Data, before: Int64) async throws {
        while true {
            let answer = try await range(Requests.ownerRange(prefix: prefix, before: before))
            guard let last = answer.kvs.first else { return }
            try await waitDelete(key: last.key, from: answer.header.revision)
        }
    }

    /// Waits until `key`, which exists at `revision`, is deleted.
    func waitDelete(key: Data, from revision: Int64) async throws {
        var options = WatchOptions()
        options.startRevision = revision
        options.noPut = true
        for try await response in watch(key, options: options) {
            if response.events.contains(where: { $0.type == .delete }) { return }
        }
        // The sequence ends without an error only when this task was cancelled.
        throw CancellationError()
    }

    /// Runs `cleanup` to completion even when the calling task is cancelled (a cancelled task's
    /// calls would fail at once, leaving a key behind that blocks the others until its lease ends).
    func uncancelled(_ cleanup: @escaping @Sendable () async throws -> Void) async {
        // Unstructured on purpose: it does not inherit the caller's cancellation.
        await Task { try? await cleanup() }.value
    }
}

/// Whether a fenced transaction ran: ``KeelClient/fencedTxn(lockKey:fencingToken:operations:)``.
public struct FencedTxnResult: Sendable {
    /// True: the lock's key still had the token's create revision and the operations were applied.
    /// False: the lock was lost (its key is gone or belongs to a newer holder), nothing was applied.
    public var applied: Bool
    /// The transaction's answer; with `applied` its responses are the operations'.
    public var response: TxnResponse
}

extension KeelClient {
    /// Applies `operations` only while the lock whose key is `lockKey` is still held by the holder
    /// that got `fencingToken` (``HeldLock/fencingToken``): one transaction whose comparison is the
    /// key's create revision. A holder whose lease expired while it was paused is refused instead
    /// of overwriting its successor's writes.
    public func fencedTxn(lockKey: Data, fencingToken: Int64, operations: [RequestOp]) async throws -> FencedTxnResult {
        precondition(fencingToken > 0, "a fencing token is a create revision, so positive")
        var request = TxnRequest()
        request.compare = [Requests.createRevision(of: lockKey, equals: fencingToken)]
        request.success = operations
        let response = try await txn(request)
        return FencedTxnResult(applied: response.succeeded, response: response)
    }
}
