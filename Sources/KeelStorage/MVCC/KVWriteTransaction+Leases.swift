import Raft

/// Leases: grant and revoke (expiry is the server's job: it proposes a revoke).
extension KVWriteTransaction {
    func leaseExists(_ id: Int64) throws -> Bool {
        if let change = leaseChanges[id] { return change != nil }
        return try database.get(KVStateMachine.leaseFamily, LeaseCoding.leaseKey(id)) != nil
    }

    func grant(id: Int64, ttl: Int64) throws -> KVResponse {
        guard id > 0 else { throw StorageError.invalid("etcdserver: lease id must be positive, got \(id)") }
        guard try !leaseExists(id) else { throw StorageError.invalid("etcdserver: lease already exists") }
        batch.put(family: database.family(KVStateMachine.leaseFamily), LeaseCoding.leaseKey(id), KVStateMachine.encodeInt(ttl))
        leaseChanges[id] = ttl
        return .leaseGrant(id: id, ttlSeconds: ttl)
    }

    func revoke(id: Int64) throws -> Int64 {
        guard try leaseExists(id) else { throw StorageError(.leaseNotFound, "etcdserver: requested lease not found") }
        let prefix = LeaseCoding.attachmentPrefix(lease: id)
        var keys: [[UInt8]] = []
        try database.iterator(KVStateMachine.leaseFamily).forEach(from: prefix, to: KeyRange.prefixEnd(prefix)) { key, _ in
            keys.append(Array(key[prefix.count...]))
            return true
        }
        for key in keys {
            guard let current = try latest(key), current.stored.lease == id else { continue }
            writeVersion(key, StoredKey(tombstone: true, createRevision: 0, version: 0, lease: 0, value: []), previousLease: id)
        }
        batch.delete(family: database.family(KVStateMachine.leaseFamily), LeaseCoding.leaseKey(id))
        leaseChanges[id] = .some(nil)
        return finalRevision
    }
}

/// `kv_lease` layout: `L | id` → TTL, and `K | id | key` → empty for each key attached to a lease.
enum LeaseCoding {
    static func leaseKey(_ id: Int64) -> [UInt8] { [UInt8(ascii: "L")] + bigEndianKey(UInt64(bitPattern: id)) }
    static func attachmentPrefix(lease: Int64) -> [UInt8] { [UInt8(ascii: "K")] + bigEndianKey(UInt64(bitPattern: lease)) }
    static func attachmentKey(lease: Int64, key: [UInt8]) -> [UInt8] { attachmentPrefix(lease: lease) + key }
}
