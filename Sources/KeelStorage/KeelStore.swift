import Raft

/// The embedded, single-node key-value store: etcd's KV API over the MVCC state machine, without
/// Raft. Each write is applied as the next "entry" and synced before the call returns.
///
/// ```swift
/// let store = try KeelStore.open(directory: "/var/lib/app/kv")
/// try store.put("greeting", "hello")
/// let value = try store.get("greeting")?.value
/// ```
public final class KeelStore {
    private var storage: NodeStorage?
    private var machine: KVStateMachine {
        guard let storage else { preconditionFailure("KeelStore used after close()") }
        return storage.stateMachine
    }

    private init(storage: NodeStorage) { self.storage = storage }

    /// Opens (creating if missing) a store in `directory`.
    public static func open(directory: String, options: StorageOptions = StorageOptions()) throws -> KeelStore {
        var options = options
        options.syncApplies = true
        return KeelStore(storage: try NodeStorage(directory: directory, options: options))
    }

    /// The current revision.
    public var revision: Int64 { machine.revision }
    /// The revision below which history was compacted.
    public var compactedRevision: Int64 { machine.compactedRevision }

    /// Applies one command durably and returns its response, throwing its error.
    @discardableResult
    public func execute(_ command: KVCommand) throws -> KVResponse {
        try machine.validate(command)
        let index = machine.appliedIndex.advanced(by: 1)
        guard let result = try machine.apply(index: index, entryData: command.encoded()) else {
            preconditionFailure("index \(index) is past the applied index and must apply")
        }
        return try result.get()
    }

    /// Stores a value and returns the new revision.
    @discardableResult
    public func put(_ key: String, _ value: String, lease: Int64 = 0) throws -> Int64 {
        try put(PutRequest(key: Array(key.utf8), value: Array(value.utf8), lease: lease)).revision
    }

    /// etcd's Put.
    @discardableResult
    public func put(_ request: PutRequest) throws -> PutResponse {
        guard case .put(let response) = try execute(.put(request)) else { preconditionFailure("put answered with another kind") }
        return response
    }

    /// The current key-value of one key, or nil.
    public func get(_ key: String) throws -> KeyValue? {
        try range(RangeRequest(key: Array(key.utf8))).kvs.first
    }

    /// etcd's Range, served from the local state (no log entry needed in a single-node store).
    public func range(_ request: RangeRequest) throws -> RangeResponse { try machine.range(request) }

    /// etcd's DeleteRange.
    @discardableResult
    public func delete(_ request: DeleteRangeRequest) throws -> DeleteRangeResponse {
        guard case .deleteRange(let response) = try execute(.deleteRange(request)) else { preconditionFailure("delete answered with another kind") }
        return response
    }

    /// etcd's Txn.
    public func txn(_ request: TxnRequest) throws -> TxnResponse {
        guard case .txn(let response) = try execute(.txn(request)) else { preconditionFailure("txn answered with another kind") }
        return response
    }

    /// Drops history below `revision`.
    public func compact(_ revision: Int64) throws { try execute(.compact(revision: revision)) }

    /// Creates a lease that keys can be attached to.
    public func grantLease(id: Int64, ttlSeconds: Int64) throws { try execute(.leaseGrant(id: id, ttlSeconds: ttlSeconds)) }

    /// Deletes a lease and its keys.
    public func revokeLease(id: Int64) throws { try execute(.leaseRevoke(id: id)) }

    /// The lease `id`, nil when there is none.
    public func lease(_ id: Int64) throws -> LeaseRecord? { try machine.lease(id) }

    /// Every lease, in id order.
    public func leases() throws -> [LeaseRecord] { try machine.leases() }

    /// The keys attached to lease `id`, in key order.
    public func leaseKeys(_ id: Int64, limit: Int = .max) throws -> [[UInt8]] { try machine.leaseKeys(id, limit: limit) }

    /// A consistent snapshot stream of the whole store.
    public func makeSnapshot() -> SnapshotWriter { machine.makeSnapshot() }

    /// Replaces the store's state with a snapshot; refuses torn or corrupt streams.
    public func restore(from receiver: SnapshotReceiver) throws { try machine.restore(from: receiver) }

    /// Closes the database (once no snapshot stream still reads it). Using the store afterwards is a
    /// programmer error; releasing the last reference closes it too.
    public func close() { storage = nil }
}
