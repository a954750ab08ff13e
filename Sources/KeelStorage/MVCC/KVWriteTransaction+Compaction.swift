import Raft

/// Compact: dropping history below a revision.
extension KVWriteTransaction {
    /// Drops every version superseded at or before `target`, keeping the newest one unless it is a
    /// delete, so that reads at `target` or later are unchanged.
    func compact(_ target: Int64) throws -> Int64 {
        guard target > compactedRevision else { throw StorageError(.compacted, "mvcc: required revision has been compacted") }
        guard target <= committedRevision else { throw StorageError(.unavailable, "mvcc: required revision is a future revision") }
        let keyFamily = database.family(KVStateMachine.keyFamily)
        let revisionFamily = database.family(KVStateMachine.revisionFamily)
        let iterator = database.iterator(KVStateMachine.keyFamily)
        iterator.seekToFirst()
        var group: ArraySlice<UInt8> = []
        var keptNewest = false
        while iterator.isValid {
            let indexKey = iterator.key
            let parsed = try KeyIndexCoding.parseIndexKey(indexKey)
            if parsed.prefix != group {
                group = parsed.prefix
                keptNewest = false
            }
            if parsed.main <= target {
                if keptNewest {
                    batch.delete(family: keyFamily, indexKey)
                    batch.delete(family: revisionFamily, KeyIndexCoding.revisionKey(main: parsed.main, sub: parsed.sub))
                } else {
                    keptNewest = true
                    let stored = try StoredKey(decoding: iterator.value, what: "mvcc key \(printable(parsed.key)) at revision \(parsed.main)")
                    if stored.tombstone {
                        batch.delete(family: keyFamily, indexKey)
                        batch.delete(family: revisionFamily, KeyIndexCoding.revisionKey(main: parsed.main, sub: parsed.sub))
                    }
                }
            }
            iterator.next()
        }
        try iterator.check()
        batch.put(family: database.family(KVStateMachine.metaFamily), KVStateMachine.compactedKey, KVStateMachine.encodeInt(target))
        compactedRevision = target
        return committedRevision
    }
}
