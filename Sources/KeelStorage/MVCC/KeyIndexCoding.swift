/// The layout of the MVCC column families, modelled on etcd's key index and revision keys.
///
/// `kv_key`: `escaped(key) 00 01 | ~main (8 BE) | ~sub (8 BE)` → ``StoredKey``. The escaping
/// (`00` → `00 FF`, then the `00 01` terminator) keeps RocksDB's byte order equal to key order, and
/// the inverted revisions put a key's newest version first, so "the key at revision R" is one seek.
///
/// `kv_rev`: `main (8 BE) | sub (8 BE)` → the key and whether the write was a delete: the history in
/// revision order, which a watch will replay.
enum KeyIndexCoding {
    static let revisionBytes = 16

    /// The prefix shared by every version of `key` in `kv_key`.
    static func groupPrefix(_ key: [UInt8]) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(key.count + 2 + revisionBytes)
        for byte in key {
            result.append(byte)
            if byte == 0 { result.append(0xFF) }
        }
        result.append(0)
        result.append(1)
        return result
    }

    /// The `kv_key` key of one version; seeking to it with `(main, Int64.max)` finds the newest
    /// version at or below `main`.
    static func indexKey(prefix: [UInt8], main: Int64, sub: Int64) -> [UInt8] {
        var writer = ByteWriter(capacity: prefix.count + revisionBytes)
        writer.raw(prefix)
        writer.u64(UInt64.max - UInt64(main))
        writer.u64(UInt64.max - UInt64(sub))
        return writer.bytes
    }

    /// Whether a `kv_key` key is a version of the key with this group prefix.
    static func isVersion(_ indexKey: [UInt8], of prefix: ArraySlice<UInt8>) -> Bool {
        indexKey.count == prefix.count + revisionBytes && indexKey.starts(with: prefix)
    }

    /// A key past every version of the group and before the next group: no other group's prefix
    /// starts with this one, because a key's zero bytes are escaped before the `00 01` terminator.
    static func groupEnd(_ prefix: ArraySlice<UInt8>) -> [UInt8] {
        Array(prefix) + [UInt8](repeating: 0xFF, count: revisionBytes) + [0]
    }

    /// Splits a `kv_key` key into its group prefix, user key and revision.
    static func parseIndexKey(_ bytes: [UInt8]) throws -> (prefix: ArraySlice<UInt8>, key: [UInt8], main: Int64, sub: Int64) {
        guard bytes.count >= revisionBytes + 2 else { throw StorageError.corruption("mvcc key index: key of \(bytes.count) bytes") }
        let prefixEnd = bytes.count - revisionBytes
        var reader = ByteReader(bytes, what: "mvcc key index", from: prefixEnd)
        let main = Int64(bitPattern: UInt64.max - (try reader.u64()))
        let sub = Int64(bitPattern: UInt64.max - (try reader.u64()))
        guard bytes[prefixEnd - 2] == 0, bytes[prefixEnd - 1] == 1 else {
            throw StorageError.corruption("mvcc key index: missing key terminator")
        }
        var key: [UInt8] = []
        key.reserveCapacity(prefixEnd - 2)
        var index = 0
        while index < prefixEnd - 2 {
            let byte = bytes[index]
            key.append(byte)
            if byte == 0 {
                guard bytes[index + 1] == 0xFF else { throw StorageError.corruption("mvcc key index: bad key escape") }
                index += 1
            }
            index += 1
        }
        return (bytes[0..<prefixEnd], key, main, sub)
    }

    static func revisionKey(main: Int64, sub: Int64) -> [UInt8] {
        var writer = ByteWriter(capacity: revisionBytes)
        writer.i64(main)
        writer.i64(sub)
        return writer.bytes
    }

    static func revisionValue(key: [UInt8], tombstone: Bool) -> [UInt8] {
        var writer = ByteWriter(capacity: key.count + 5)
        writer.bool(tombstone)
        writer.blob(key)
        return Record.seal(writer.bytes)
    }
}

/// One version of a key as stored in `kv_key`; the mod revision is in the index key.
struct StoredKey: Hashable {
    var tombstone: Bool
    var createRevision: Int64
    var version: Int64
    var lease: Int64
    var value: [UInt8]

    func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: value.count + 32)
        writer.bool(tombstone)
        writer.i64(createRevision)
        writer.i64(version)
        writer.i64(lease)
        writer.blob(value)
        return Record.seal(writer.bytes)
    }

    init(tombstone: Bool, createRevision: Int64, version: Int64, lease: Int64, value: [UInt8]) {
        self.tombstone = tombstone
        self.createRevision = createRevision
        self.version = version
        self.lease = lease
        self.value = value
    }

    init(decoding bytes: [UInt8], what: @autoclosure @escaping () -> String) throws {
        var reader = try Record.open(bytes, what: what())
        tombstone = try reader.bool()
        createRevision = try reader.i64()
        version = try reader.i64()
        lease = try reader.i64()
        value = try reader.blob()
        try reader.finish()
    }

    func keyValue(_ key: [UInt8], modRevision: Int64, keysOnly: Bool = false) -> KeyValue {
        KeyValue(
            key: key, createRevision: createRevision, modRevision: modRevision, version: version,
            value: keysOnly ? [] : value, lease: lease)
    }
}
