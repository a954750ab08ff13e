import Raft

/// Leases: grant, revoke, checkpoint, and the key counts attachments keep (expiry is the leader's
/// job: it proposes a revoke).
extension KVWriteTransaction {
    /// The lease as this transaction sees it (its own changes first).
    func leaseRecord(_ id: Int64) throws -> LeaseRecord? {
        if let cached = leaseRecords[id] { return cached }
        let record = try machine.lease(id)
        leaseRecords[id] = .some(record)
        return record
    }

    func leaseExists(_ id: Int64) throws -> Bool { try leaseRecord(id) != nil }

    private func store(_ record: LeaseRecord) {
        batch.put(family: database.family(KVStateMachine.leaseFamily), LeaseCoding.leaseKey(record.id), LeaseCoding.encode(record))
        leaseRecords[record.id] = .some(record)
    }

    func grant(id: Int64, ttl: Int64) throws -> KVResponse {
        guard id > 0 else { throw StorageError.invalid("etcdserver: lease id must be positive, got \(id)") }
        guard ttl > 0, ttl <= LeaseLimits.ttlSecondsMax else { throw StorageError.invalid("etcdserver: too large lease TTL") }
        guard try !leaseExists(id) else { throw StorageError(.leaseExists, "etcdserver: lease already exists") }
        store(LeaseRecord(id: id, ttlSeconds: ttl))
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
            try writeVersion(
                key, StoredKey(tombstone: true, createRevision: 0, version: 0, lease: 0, value: []),
                previous: current.stored.keyValue(key, modRevision: current.main))
        }
        batch.delete(family: database.family(KVStateMachine.leaseFamily), LeaseCoding.leaseKey(id))
        leaseRecords[id] = .some(nil)
        return finalRevision
    }

    func checkpoint(_ checkpoints: [LeaseCheckpoint]) throws -> [LeaseCheckpoint] {
        var applied: [LeaseCheckpoint] = []
        for checkpoint in checkpoints {
            // The lease may have been revoked after the leader read its timer: nothing to record.
            guard var record = try leaseRecord(checkpoint.id) else { continue }
            record.checkpointedMilliseconds = checkpoint.remainingMilliseconds.map { max(1, $0) }
            store(record)
            applied.append(LeaseCheckpoint(id: checkpoint.id, remainingMilliseconds: record.checkpointedMilliseconds))
        }
        return applied
    }

    /// Refuses to attach one more key to a lease that holds the most it may (a key already attached
    /// to it does not count again).
    func checkRoom(lease: Int64, previousLease: Int64?) throws {
        guard lease != 0, lease != previousLease, let record = try leaseRecord(lease) else { return }
        guard record.keyCount < machine.keysPerLeaseMax else {
            throw StorageError(
                .limitExceeded, "etcdserver: lease \(String(lease, radix: 16)) already holds \(record.keyCount) keys, the most a lease may hold")
        }
    }

    /// Keeps the key counts of the leases a write moves a key between.
    func moveAttachment(from previousLease: Int64?, to newLease: Int64) throws {
        guard previousLease ?? 0 != newLease else { return }
        if let previousLease, previousLease != 0, var record = try leaseRecord(previousLease) {
            record.keyCount = max(0, record.keyCount - 1)
            store(record)
        }
        if newLease != 0, var record = try leaseRecord(newLease) {
            record.keyCount += 1
            store(record)
        }
    }
}

extension KVStateMachine {
    /// The lease `id` as applied, nil when there is none.
    public func lease(_ id: Int64) throws -> LeaseRecord? {
        guard let bytes = try database.get(Self.leaseFamily, LeaseCoding.leaseKey(id)) else { return nil }
        return try LeaseCoding.decode(bytes, id: id)
    }

    /// Every lease, in id order.
    public func leases() throws -> [LeaseRecord] {
        var records: [LeaseRecord] = []
        let prefix = [UInt8(ascii: "L")]
        try database.iterator(Self.leaseFamily).forEach(from: prefix, to: KeyRange.prefixEnd(prefix)) { key, value in
            records.append(try LeaseCoding.decode(value, id: try LeaseCoding.id(fromLeaseKey: key)))
            return true
        }
        return records
    }

    /// The keys attached to lease `id`, in key order, at most `limit`.
    public func leaseKeys(_ id: Int64, limit: Int) throws -> [[UInt8]] {
        let prefix = LeaseCoding.attachmentPrefix(lease: id)
        var keys: [[UInt8]] = []
        try database.iterator(Self.leaseFamily).forEach(from: prefix, to: KeyRange.prefixEnd(prefix)) { key, _ in
            keys.append(Array(key[prefix.count...]))
            return keys.count < limit
        }
        return keys
    }
}

/// `kv_lease` layout: `L | id` → the lease's record, and `K | id | key` → empty for each key
/// attached to a lease.
enum LeaseCoding {
    static func leaseKey(_ id: Int64) -> [UInt8] { [UInt8(ascii: "L")] + bigEndianKey(UInt64(bitPattern: id)) }
    static func attachmentPrefix(lease: Int64) -> [UInt8] { [UInt8(ascii: "K")] + bigEndianKey(UInt64(bitPattern: lease)) }
    static func attachmentKey(lease: Int64, key: [UInt8]) -> [UInt8] { attachmentPrefix(lease: lease) + key }

    static func id(fromLeaseKey key: [UInt8]) throws -> Int64 {
        guard key.count == 9 else { throw StorageError.corruption("lease record key of \(key.count) bytes") }
        return Int64(bitPattern: key[1...].reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }

    /// TTL, checkpointed milliseconds (0: none), key count.
    static func encode(_ record: LeaseRecord) -> [UInt8] {
        var writer = ByteWriter()
        writer.i64(record.ttlSeconds)
        writer.i64(record.checkpointedMilliseconds ?? 0)
        writer.i64(record.keyCount)
        return Record.seal(writer.bytes)
    }

    static func decode(_ bytes: [UInt8], id: Int64) throws -> LeaseRecord {
        var reader = try Record.open(bytes, what: "lease \(id)")
        let ttl = try reader.i64()
        // Records written before checkpoints and key counts held the TTL alone.
        guard reader.remaining > 0 else { return LeaseRecord(id: id, ttlSeconds: ttl) }
        let checkpointed = try reader.i64()
        let keyCount = try reader.i64()
        try reader.finish()
        return LeaseRecord(id: id, ttlSeconds: ttl, checkpointedMilliseconds: checkpointed > 0 ? checkpointed : nil, keyCount: keyCount)
    }
}
