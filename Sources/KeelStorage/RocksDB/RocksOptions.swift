/// Tuning for the RocksDB database under a store. The defaults suit a small node; tests shrink them.
public struct StorageOptions: Sendable {
    /// Size of each memtable before it is flushed to an SST file.
    public var writeBufferBytes: Int = 16 << 20
    /// Size of the shared LRU block cache for reads.
    public var blockCacheBytes: Int = 32 << 20
    /// The largest value a Put may store (etcd's default request limit is 1.5 MiB).
    public var valueBytesMax: Int = 1_572_864
    /// Whether state-machine applies are synced. A Raft host leaves this off because the synced log
    /// replays on restart; the embedded single-node store turns it on because it has no log.
    public var syncApplies: Bool = false
    /// The most keys one lease may hold: revoking a lease deletes them all in one write, which
    /// must stay bounded. Every replica must use the same value (it decides which puts fail).
    public var keysPerLeaseMax: Int64 = 10_000

    /// Creates options with the defaults.
    public init() {}
}
