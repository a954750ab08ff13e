import KeelChecksum

/// etcd's Hash and HashKV over a consistent view of the store, computed off the applying thread.
///
/// HashKV covers the compacted revision, then every stored version at or below the revision asked
/// for, each as its index key (key, main and sub revision) followed by its stored record (create
/// revision, version, lease, value, tombstone), in key order: two replicas that applied the same
/// entries hash equal, and a difference in any field of any version shows. As in etcd, a
/// compaction changes the hash even where it dropped no version (the history one may read did
/// change); compare hashes only between answers with the same compact revision, as etcd does. The number is Keel's, not etcd's (the stored
/// bytes differ): compare kvd members with each other, not with etcd.
///
/// `@unchecked Sendable`: it is made on the storage thread and then used by one thread at a time;
/// it reads only through its own RocksDB snapshot (which keeps the database open), so writes
/// applied meanwhile do not reach it.
public struct KVHasher: @unchecked Sendable {
    private let database: RocksDatabase
    private let view: RocksSnapshot
    /// The store's revision in the view.
    public let revision: Int64
    /// The store's compacted revision in the view.
    public let compactedRevision: Int64

    init(machine: KVStateMachine) {
        database = machine.database
        view = machine.database.snapshot()
        revision = machine.revision
        compactedRevision = machine.compactedRevision
    }

    /// HashKV at `revision` (0: the current one), with etcd's errors: `compacted` at or below the
    /// compacted revision, `unavailable` (a future revision) above the current one.
    public func hashKV(revision asked: Int64) throws -> KVHash {
        let through = asked == 0 ? revision : asked
        guard through <= revision else { throw StorageError(.unavailable, "mvcc: required revision is a future revision") }
        guard asked == 0 || through > compactedRevision else {
            throw StorageError(.compacted, "mvcc: required revision has been compacted")
        }
        var crc = CRC32C.update(0, KVStateMachine.encodeInt(compactedRevision))
        let iterator = database.iterator(KVStateMachine.keyFamily, snapshot: view)
        iterator.seekToFirst()
        while iterator.isValid {
            let indexKey = iterator.key
            if try Self.mainRevision(of: indexKey) <= through {
                crc = CRC32C.update(crc, indexKey)
                crc = CRC32C.update(crc, iterator.value)
            }
            iterator.next()
        }
        try iterator.check()
        return KVHash(hash: crc, hashedRevision: through, compactRevision: compactedRevision, revision: revision)
    }

    /// etcd's Hash: every record of the key-value state (versions, revision index, leases, meta
    /// such as revisions, alarms and the applied index), family by family in key order. Members
    /// differ here whenever their applied index differs; HashKV is the one to compare.
    public func hashAll() throws -> UInt32 {
        var crc: UInt32 = 0
        for family in KVStateMachine.families {
            let iterator = database.iterator(family, snapshot: view)
            iterator.seekToFirst()
            while iterator.isValid {
                crc = CRC32C.update(crc, iterator.key)
                crc = CRC32C.update(crc, iterator.value)
                iterator.next()
            }
            try iterator.check()
        }
        return crc
    }

    /// The main revision from a `kv_key` index key's last 16 bytes, without copying the key.
    private static func mainRevision(of indexKey: [UInt8]) throws -> Int64 {
        guard indexKey.count >= KeyIndexCoding.revisionBytes + 2 else {
            throw StorageError.corruption("mvcc key index: key of \(indexKey.count) bytes")
        }
        var reader = ByteReader(indexKey, what: "mvcc key index", from: indexKey.count - KeyIndexCoding.revisionBytes)
        return Int64(bitPattern: UInt64.max - (try reader.u64()))
    }
}

extension KVStateMachine {
    /// A view for ``KVHasher`` at the applied state; cheap, call it on the applying thread.
    public func makeHasher() -> KVHasher { KVHasher(machine: self) }
}
