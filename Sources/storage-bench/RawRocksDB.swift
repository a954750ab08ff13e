import CRocksDB
import Glibc

/// RocksDB with nothing of Keel's on top: the floor under any log kept in RocksDB. Opened with the
/// settings KeelStorage's RocksDatabase uses for its own database (no compression, paranoid checks,
/// two background jobs, and StorageOptions' default 16 MiB memtables; keep them in step) so the
/// difference to the Keel log column is Keel's own cost.
final class RawRocksDB {
    private let handle: OpaquePointer
    private let options: OpaquePointer
    private let syncedWrite: OpaquePointer

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(path: String) throws {
        options = rocksdb_options_create()!
        rocksdb_options_set_create_if_missing(options, 1)
        rocksdb_options_set_paranoid_checks(options, 1)
        rocksdb_options_set_write_buffer_size(options, 16 << 20)
        rocksdb_options_set_max_background_jobs(options, 2)
        rocksdb_options_set_compression(options, Int32(rocksdb_no_compression))
        rocksdb_options_set_info_log_level(options, 2)
        syncedWrite = rocksdb_writeoptions_create()!
        rocksdb_writeoptions_set_sync(syncedWrite, 1)
        var error: UnsafeMutablePointer<CChar>?
        let opened = rocksdb_open(options, path, &error)
        if let error {
            defer { rocksdb_free(error) }
            throw Failure(description: "rocksdb open \(path): \(String(cString: error))")
        }
        handle = opened!
    }

    deinit {
        rocksdb_close(handle)
        rocksdb_writeoptions_destroy(syncedWrite)
        rocksdb_options_destroy(options)
    }

    /// One synced put under a big-endian key, as the log stores a segment.
    func syncedPut(key: UInt64, value: [UInt8]) throws {
        var error: UnsafeMutablePointer<CChar>?
        withUnsafeBytes(of: key.bigEndian) { keyBytes in
            value.withUnsafeBytes { valueBytes in
                keyBytes.withMemoryRebound(to: CChar.self) { keyChars in
                    valueBytes.withMemoryRebound(to: CChar.self) { valueChars in
                        rocksdb_put(handle, syncedWrite, keyChars.baseAddress, keyChars.count, valueChars.baseAddress, valueChars.count, &error)
                    }
                }
            }
        }
        if let error {
            defer { rocksdb_free(error) }
            throw Failure(description: "rocksdb put: \(String(cString: error))")
        }
    }
}
