/// Reading history back in revision order, for watchers that start in the past or fell behind.
extension KVStateMachine {
    /// Tells the observer the whole state was replaced.
    func reportReplacedState() { observer?.stateReplaced(revision: revision, compactedRevision: compactedRevision) }

    /// Every change to keys in `key`/`rangeEnd` (etcd's range convention) from revision `from` on,
    /// in revision order, from `kv_rev`.
    ///
    /// Reading stops at a revision boundary once `eventsMax` events were found or `scannedMax`
    /// writes (to any key) were looked at, so one call holds the applying thread for a bounded
    /// time; ``KVHistory/throughRevision`` says where to continue. Throws `compacted` when `from`
    /// is below the compacted revision: the changes before it are gone.
    public func history(
        key: [UInt8], rangeEnd: [UInt8], from: Int64, prevKv: Bool, eventsMax: Int, scannedMax: Int
    ) throws -> KVHistory {
        precondition(eventsMax > 0 && scannedMax > 0, "history: limits must be positive")
        guard from >= compactedRevision else {
            throw StorageError(.compacted, "mvcc: required revision has been compacted")
        }
        let (start, end) = KeyRange.bounds(key: key, rangeEnd: rangeEnd)
        var events: [KVEvent] = []
        var scanned = 0
        let revisions = database.iterator(Self.revisionFamily)
        let versions = database.iterator(Self.keyFamily)
        revisions.seek(KeyIndexCoding.revisionKey(main: max(from, 0), sub: 0))
        var currentMain: Int64?
        while revisions.isValid {
            var reader = ByteReader(revisions.key, what: "mvcc revision key")
            let main = try reader.i64()
            let sub = try reader.i64()
            if let currentMain, main != currentMain, events.count >= eventsMax || scanned >= scannedMax {
                return KVHistory(events: events, throughRevision: currentMain)
            }
            currentMain = main
            scanned += 1
            var valueReader = try Record.open(revisions.value, what: "mvcc revision \(main).\(sub)")
            let tombstone = try valueReader.bool()
            let changedKey = try valueReader.blob()
            try valueReader.finish()
            if KeyRange.contains(start: start, end: end, changedKey) {
                events.append(try event(changedKey, main: main, sub: sub, tombstone: tombstone, prevKv: prevKv, versions: versions))
            }
            revisions.next()
        }
        try revisions.check()
        return KVHistory(events: events, throughRevision: revision)
    }

    /// The event of one version, read from `kv_key`, with the version before it when asked.
    private func event(
        _ key: [UInt8], main: Int64, sub: Int64, tombstone: Bool, prevKv: Bool, versions: RocksIterator
    ) throws -> KVEvent {
        let prefix = KeyIndexCoding.groupPrefix(key)
        let indexKey = KeyIndexCoding.indexKey(prefix: prefix, main: main, sub: sub)
        versions.seek(indexKey)
        guard versions.isValid, versions.key == indexKey else {
            try versions.check()
            throw StorageError.corruption("mvcc: revision \(main).\(sub) names key \(printable(key)), which has no version there")
        }
        let stored = try StoredKey(decoding: versions.value, what: "mvcc key \(printable(key)) at revision \(main)")
        var previous: KeyValue?
        if prevKv {
            // The key's older versions follow its newer ones.
            versions.next()
            if versions.isValid, KeyIndexCoding.isVersion(versions.key, of: prefix[...]) {
                let parsed = try KeyIndexCoding.parseIndexKey(versions.key)
                let older = try StoredKey(decoding: versions.value, what: "mvcc key \(printable(key)) at revision \(parsed.main)")
                if !older.tombstone { previous = older.keyValue(key, modRevision: parsed.main) }
            }
            try versions.check()
        }
        if tombstone || stored.tombstone { return .delete(key, revision: main, previous: previous) }
        return KVEvent(kind: .put, kv: stored.keyValue(key, modRevision: main), prevKv: previous)
    }
}
