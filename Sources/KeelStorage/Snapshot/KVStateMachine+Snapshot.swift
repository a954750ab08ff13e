extension KVStateMachine {
    /// Starts streaming a consistent image of the current state.
    public func makeSnapshot() -> SnapshotWriter { SnapshotWriter(machine: self) }

    /// Replaces the whole state (data, leases, revisions, applied index, membership) with a
    /// received snapshot in one atomic write. A torn or corrupt stream is refused and the current
    /// state kept.
    public func restore(from receiver: SnapshotReceiver) throws {
        let batch = try restoreBatch(from: receiver)
        try database.write(batch, sync: true)
        try reloadMeta()
        reportReplacedState()
    }

    func restoreBatch(from receiver: SnapshotReceiver) throws -> RocksWriteBatch {
        guard receiver.isComplete, receiver.header != nil else {
            throw StorageError(.snapshotInvalid, "snapshot: stream is incomplete (no trailer received)")
        }
        let batch = RocksWriteBatch()
        for name in Self.families {
            let iterator = database.iterator(name)
            iterator.seekToLast()
            if iterator.isValid {
                batch.deleteRange(family: database.family(name), from: [], to: iterator.key + [0])
            }
            try iterator.check()
        }
        for record in receiver.records {
            batch.put(family: database.family(SnapshotFormat.families[record.family]!), record.key, record.value)
        }
        return batch
    }
}
