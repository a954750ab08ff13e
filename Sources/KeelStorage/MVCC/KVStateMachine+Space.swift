/// The store's size as the quota sees it, and etcd's Defragment.
extension KVStateMachine {
    /// The bytes the key-value data takes in RocksDB (SST files plus memtables of the versions,
    /// revision index and leases), the size the quota is held to. Like etcd's backend size it
    /// falls only once space is reclaimed: deletes and compaction add tombstones, and
    /// ``defragment()`` drops them. The meta family is left out: it holds a few records, but each
    /// apply rewrites one, so its memtable grows with the entry count, not with the data.
    public func sizeBytes() -> Int64 {
        [Self.keyFamily, Self.revisionFamily, Self.leaseFamily].reduce(0) { total, family in
            total + database.intProperty(family, "rocksdb.total-sst-files-size") + database.intProperty(family, "rocksdb.cur-size-all-mem-tables")
        }
    }

    /// etcd's Defragment: rewrites the key-value families' files without deleted and compacted
    /// versions (RocksDB's manual compaction, memtables flushed first), so their size falls.
    public func defragment() throws {
        for family in Self.families { try database.compactAll(family) }
    }
}
