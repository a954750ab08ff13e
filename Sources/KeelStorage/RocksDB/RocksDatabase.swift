import CRocksDB
import Glibc

/// An open RocksDB database with a fixed list of column families. Internal: no RocksDB type
/// escapes KeelStorage.
///
/// Not thread-safe; each store owns one and uses it from one caller at a time.
final class RocksDatabase {
    let handle: OpaquePointer
    private let options: OpaquePointer
    private let tableOptions: OpaquePointer
    private let cache: OpaquePointer
    private var families: [String: OpaquePointer] = [:]
    private let syncedWrite: OpaquePointer
    private let unsyncedWrite: OpaquePointer
    let path: String

    /// Opens (creating if missing) the database at `path` with the named column families.
    init(path: String, columnFamilies: [String], options storageOptions: StorageOptions) throws {
        self.path = path
        let options = rocksdb_options_create()!
        rocksdb_options_set_create_if_missing(options, 1)
        rocksdb_options_set_create_missing_column_families(options, 1)
        rocksdb_options_set_paranoid_checks(options, 1)
        rocksdb_options_set_write_buffer_size(options, storageOptions.writeBufferBytes)
        // The storage quota counts memtable bytes; RocksDB's default arena block (an eighth of
        // the write buffer) would count up to 2 MiB per column family before anything is in it.
        rocksdb_options_set_arena_block_size(options, Self.arenaBlockBytes)
        rocksdb_options_set_max_background_jobs(options, 2)
        // An incomplete record at the tail of the WAL is what a crash during a write leaves behind;
        // that write was never acknowledged, so it is dropped. A damaged record anywhere else fails
        // the open instead of silently losing acknowledged writes after it.
        rocksdb_options_set_wal_recovery_mode(options, Int32(rocksdb_tolerate_corrupted_tail_records_recovery))
        rocksdb_options_set_info_log_level(options, 2)  // warnings and worse
        rocksdb_options_set_keep_log_file_num(options, 2)
        // Compression costs CPU on the two shared cores for little gain on log entries and small
        // values; the synced append path competes with flushes for that CPU.
        rocksdb_options_set_compression(options, Int32(rocksdb_no_compression))
        let tableOptions = rocksdb_block_based_options_create()!
        let cache = rocksdb_cache_create_lru(storageOptions.blockCacheBytes)!
        rocksdb_block_based_options_set_block_cache(tableOptions, cache)
        rocksdb_options_set_block_based_table_factory(options, tableOptions)
        self.options = options
        self.tableOptions = tableOptions
        self.cache = cache
        self.syncedWrite = rocksdb_writeoptions_create()!
        rocksdb_writeoptions_set_sync(syncedWrite, 1)
        self.unsyncedWrite = rocksdb_writeoptions_create()!

        let names = ["default"] + columnFamilies.filter { $0 != "default" }
        var cNames = names.map { strdup($0) }
        defer { cNames.forEach { free($0) } }
        let familyOptions = [OpaquePointer?](repeating: options, count: names.count)
        var handles = [OpaquePointer?](repeating: nil, count: names.count)
        let opened: OpaquePointer?
        do {
            opened = try rocksCall { error in
                cNames.withUnsafeMutableBufferPointer { namePointers in
                    namePointers.withMemoryRebound(to: UnsafePointer<CChar>?.self) { constNames in
                        familyOptions.withUnsafeBufferPointer { optionPointers in
                            rocksdb_open_column_families(
                                options, path, Int32(names.count), constNames.baseAddress,
                                optionPointers.baseAddress, &handles, error)
                        }
                    }
                }
            }
        } catch {
            rocksdb_writeoptions_destroy(syncedWrite)
            rocksdb_writeoptions_destroy(unsyncedWrite)
            rocksdb_options_destroy(options)
            rocksdb_block_based_options_destroy(tableOptions)
            rocksdb_cache_destroy(cache)
            throw error
        }
        self.handle = opened!
        for (name, family) in zip(names, handles) { families[name] = family! }
    }

    deinit {
        for family in families.values { rocksdb_column_family_handle_destroy(family) }
        rocksdb_close(handle)
        rocksdb_writeoptions_destroy(syncedWrite)
        rocksdb_writeoptions_destroy(unsyncedWrite)
        rocksdb_options_destroy(options)
        rocksdb_block_based_options_destroy(tableOptions)
        rocksdb_cache_destroy(cache)
    }

    /// The memtables' allocation unit: the granularity of their measured size.
    static let arenaBlockBytes = 64 << 10

    /// The handle of a column family named at open; asking for another is a programmer error.
    func family(_ name: String) -> OpaquePointer {
        guard let family = families[name] else { preconditionFailure("unknown column family \(name)") }
        return family
    }

    /// Applies a batch atomically; `sync` makes it durable (WAL fsync'd) before returning.
    func write(_ batch: RocksWriteBatch, sync: Bool) throws {
        try rocksCall { error in rocksdb_write(handle, sync ? syncedWrite : unsyncedWrite, batch.handle, error) }
    }

    /// Writes one key outside a batch.
    func put(_ family: String, _ key: [UInt8], _ value: [UInt8], sync: Bool) throws {
        let batch = RocksWriteBatch()
        batch.put(family: self.family(family), key, value)
        try write(batch, sync: sync)
    }

    /// Removes every key in `[start, end)` of a column family with one range tombstone.
    func deleteRange(_ family: String, from start: [UInt8], to end: [UInt8], sync: Bool) throws {
        let batch = RocksWriteBatch()
        batch.deleteRange(family: self.family(family), from: start, to: end)
        try write(batch, sync: sync)
    }

    /// Reads one key, optionally as of a snapshot; nil when absent.
    func get(_ family: String, _ key: [UInt8], snapshot: RocksSnapshot? = nil) throws -> [UInt8]? {
        let readOptions = RocksReadOptions(snapshot: snapshot)
        var length = 0
        let value = try withCBytes(key) { pointer, count in
            try rocksCall { error in
                rocksdb_get_cf(handle, readOptions.handle, self.family(family), pointer, count, &length, error)
            }
        }
        guard let value else { return nil }
        defer { rocksdb_free(value) }
        return copyBytes(value, length)
    }

    /// An iterator over one column family, optionally as of a snapshot.
    func iterator(_ family: String, snapshot: RocksSnapshot? = nil) -> RocksIterator {
        RocksIterator(database: self, family: self.family(family), snapshot: snapshot)
    }

    /// A consistent point-in-time read view.
    func snapshot() -> RocksSnapshot { RocksSnapshot(database: self) }

    /// Writes an openable copy of the database into `directory` (which must not exist), hard-linking
    /// SST files where it can.
    func checkpoint(into directory: String) throws {
        let checkpoint = try rocksCall { error in rocksdb_checkpoint_object_create(handle, error) }
        defer { rocksdb_checkpoint_object_destroy(checkpoint) }
        try rocksCall { error in rocksdb_checkpoint_create(checkpoint, directory, 0, error) }
    }

    /// A numeric RocksDB property of a column family (`rocksdb.total-sst-files-size`...); 0 when
    /// RocksDB does not know it.
    func intProperty(_ family: String, _ name: String) -> Int64 {
        var value: UInt64 = 0
        guard rocksdb_property_int_cf(handle, self.family(family), name, &value) == 0 else { return 0 }
        return Int64(clamping: value)
    }

    /// Flushes a column family's memtable, then compacts its whole key range down to the last level,
    /// dropping deleted and overwritten data.
    func compactAll(_ family: String) throws {
        let flushOptions = rocksdb_flushoptions_create()!
        defer { rocksdb_flushoptions_destroy(flushOptions) }
        rocksdb_flushoptions_set_wait(flushOptions, 1)
        try rocksCall { error in rocksdb_flush_cf(handle, flushOptions, self.family(family), error) }
        let options = rocksdb_compactoptions_create()!
        defer { rocksdb_compactoptions_destroy(options) }
        // Rewrites the bottom level too, so tombstones that reached it are dropped as well.
        rocksdb_compactoptions_set_bottommost_level_compaction(options, 2)  // kForce
        rocksdb_compact_range_cf_opt(handle, self.family(family), options, nil, 0, nil, 0)
    }

    /// Flushes every memtable to SST files, so tests can corrupt those files.
    func flush() throws {
        let flushOptions = rocksdb_flushoptions_create()!
        defer { rocksdb_flushoptions_destroy(flushOptions) }
        rocksdb_flushoptions_set_wait(flushOptions, 1)
        for family in families.values {
            try rocksCall { error in rocksdb_flush_cf(handle, flushOptions, family, error) }
        }
    }
}

/// Read options that live exactly as long as the read that uses them.
final class RocksReadOptions {
    let handle: OpaquePointer
    private let snapshot: RocksSnapshot?

    init(snapshot: RocksSnapshot?) {
        handle = rocksdb_readoptions_create()!
        rocksdb_readoptions_set_verify_checksums(handle, 1)
        self.snapshot = snapshot
        if let snapshot { rocksdb_readoptions_set_snapshot(handle, snapshot.handle) }
    }

    deinit { rocksdb_readoptions_destroy(handle) }
}

/// A consistent read view; released when the last reference goes. Keeps its database alive.
final class RocksSnapshot {
    let handle: OpaquePointer
    private let database: RocksDatabase

    init(database: RocksDatabase) {
        self.database = database
        handle = rocksdb_create_snapshot(database.handle)!
    }

    deinit { rocksdb_release_snapshot(database.handle, handle) }
}
