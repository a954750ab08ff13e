import CRocksDB

/// A set of writes applied atomically by ``RocksDatabase/write(_:sync:)``.
final class RocksWriteBatch {
    let handle: OpaquePointer

    init() { handle = rocksdb_writebatch_create()! }
    deinit { rocksdb_writebatch_destroy(handle) }

    /// The number of operations queued.
    var count: Int { Int(rocksdb_writebatch_count(handle)) }

    func put(family: OpaquePointer, _ key: [UInt8], _ value: [UInt8]) {
        withCBytes(key) { keyPointer, keyCount in
            withCBytes(value) { valuePointer, valueCount in
                rocksdb_writebatch_put_cf(handle, family, keyPointer, keyCount, valuePointer, valueCount)
            }
        }
    }

    func delete(family: OpaquePointer, _ key: [UInt8]) {
        withCBytes(key) { pointer, count in rocksdb_writebatch_delete_cf(handle, family, pointer, count) }
    }

    func deleteRange(family: OpaquePointer, from start: [UInt8], to end: [UInt8]) {
        withCBytes(start) { startPointer, startCount in
            withCBytes(end) { endPointer, endCount in
                rocksdb_writebatch_delete_range_cf(handle, family, startPointer, startCount, endPointer, endCount)
            }
        }
    }
}
