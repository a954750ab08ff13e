import CRocksDB

/// A cursor over one column family. Bounds are checked in Swift rather than through RocksDB's
/// `iterate_upper_bound`, whose C API keeps a pointer to caller memory for the iterator's lifetime.
final class RocksIterator {
    private let handle: OpaquePointer
    private let readOptions: RocksReadOptions
    private let database: RocksDatabase  // keeps the database open while the iterator lives

    init(database: RocksDatabase, family: OpaquePointer, snapshot: RocksSnapshot?) {
        self.database = database
        readOptions = RocksReadOptions(snapshot: snapshot)
        handle = rocksdb_create_iterator_cf(database.handle, readOptions.handle, family)!
    }

    deinit { rocksdb_iter_destroy(handle) }

    var isValid: Bool { rocksdb_iter_valid(handle) != 0 }

    func seekToFirst() { rocksdb_iter_seek_to_first(handle) }
    func seekToLast() { rocksdb_iter_seek_to_last(handle) }
    func seek(_ key: [UInt8]) { withCBytes(key) { rocksdb_iter_seek(handle, $0, $1) } }
    func seekForPrev(_ key: [UInt8]) { withCBytes(key) { rocksdb_iter_seek_for_prev(handle, $0, $1) } }
    func next() { rocksdb_iter_next(handle) }
    func previous() { rocksdb_iter_prev(handle) }

    var key: [UInt8] {
        var length = 0
        let pointer = rocksdb_iter_key(handle, &length)
        return copyBytes(pointer, length)
    }

    var value: [UInt8] {
        var length = 0
        let pointer = rocksdb_iter_value(handle, &length)
        return copyBytes(pointer, length)
    }

    /// Throws the error that ended the iteration early, if any (an invalid iterator is either at the
    /// end or failed; this tells which).
    func check() throws {
        try rocksCall { error in rocksdb_iter_get_error(handle, error) }
    }

    /// Visits keys in `[start, end)` (end nil: to the last key), stopping when `body` returns false.
    func forEach(from start: [UInt8], to end: [UInt8]?, _ body: ([UInt8], [UInt8]) throws -> Bool) throws {
        seek(start)
        while isValid {
            let currentKey = key
            if let end, !currentKey.lexicographicallyPrecedes(end) { break }
            if try !body(currentKey, value) { break }
            next()
        }
        try check()
    }
}
