import Raft

/// One command's work against the store: reads see the committed state plus this command's own
/// earlier writes (as in etcd, where a Txn's later ops see its earlier puts); writes collect in one
/// batch that the caller commits together with the applied index.
final class KVWriteTransaction {
    let machine: KVStateMachine
    var database: RocksDatabase { machine.database }
    let batch = RocksWriteBatch()
    /// The latest state of every key this transaction wrote (tombstones included), with its revision.
    var pending: [[UInt8]: (stored: StoredKey, main: Int64)] = [:]
    let committedRevision: Int64
    private var nextSub: Int64 = 0
    var compactedRevision: Int64
    /// The alarms as this transaction left them; nil when it did not touch them.
    var alarms: [AlarmMember]?
    /// Leases as this transaction changed them (nil: revoked), read through by ``leaseRecord(_:)``.
    var leaseRecords: [Int64: LeaseRecord?] = [:]
    /// Every key this transaction wrote, in write order, for watchers (collected only when some
    /// observer listens).
    var events: [KVEvent] = []
    private let collectsEvents: Bool

    init(machine: KVStateMachine) {
        self.machine = machine
        committedRevision = machine.revision
        compactedRevision = machine.compactedRevision
        collectsEvents = machine.observer != nil
    }

    /// The revision this transaction's writes get.
    var writeRevision: Int64 { committedRevision + 1 }
    private var changed: Bool { nextSub > 0 }
    /// The store's revision once this transaction commits.
    var finalRevision: Int64 { changed ? writeRevision : committedRevision }

    func execute(_ command: KVCommand) throws -> KVResponse {
        // etcd's capped applier: every replica refuses the same writes while NOSPACE is raised,
        // whichever member's quota check let them into the log.
        if machine.alarms.contains(where: { $0.kind == .noSpace }), Self.growsStore(command) { throw StorageError.noSpace }
        let response: KVResponse
        switch command {
        case .range(let request): response = .range(try range(request))
        case .put(let request): response = .put(try put(request))
        case .deleteRange(let request): response = .deleteRange(try deleteRange(request))
        case .txn(let request):
            try machine.validate(request)
            try Self.checkDuplicates(request)
            let path = try evaluatePath(request)
            var cursor = 0
            response = .txn(try run(request, path: path, cursor: &cursor))
        case .compact(let revision): response = .compact(revision: try compact(revision))
        case .leaseGrant(let id, let ttl): response = try grant(id: id, ttl: ttl)
        case .leaseRevoke(let id): response = .leaseRevoke(id: id, revision: try revoke(id: id))
        case .leaseCheckpoint(let checkpoints): response = .leaseCheckpoint(try checkpoint(checkpoints))
        case .alarm(let request): response = .alarm(try alarm(request))
        }
        if changed {
            batch.put(family: database.family(KVStateMachine.metaFamily), KVStateMachine.revisionKey, KVStateMachine.encodeInt(writeRevision))
        }
        return response
    }

    // MARK: Reads

    /// The newest live version of `key` as this transaction sees it.
    func latest(_ key: [UInt8]) throws -> (stored: StoredKey, main: Int64)? {
        if let entry = pending[key] { return entry.stored.tombstone ? nil : entry }
        let prefix = KeyIndexCoding.groupPrefix(key)
        let iterator = database.iterator(KVStateMachine.keyFamily)
        iterator.seek(prefix)
        guard iterator.isValid else {
            try iterator.check()
            return nil
        }
        let indexKey = iterator.key
        guard indexKey.count == prefix.count + KeyIndexCoding.revisionBytes, indexKey.starts(with: prefix) else { return nil }
        let parsed = try KeyIndexCoding.parseIndexKey(indexKey)
        let stored = try StoredKey(decoding: iterator.value, what: "mvcc key \(printable(key)) at revision \(parsed.main)")
        return stored.tombstone ? nil : (stored, parsed.main)
    }

    /// The live keys in a range at a revision, in key order, merged with this transaction's writes
    /// when reading the current state.
    func scan(key: [UInt8], rangeEnd: [UInt8], revision: Int64) throws -> [KeyValue] {
        let (start, end) = KeyRange.bounds(key: key, rangeEnd: rangeEnd)
        var result: [KeyValue] = []
        let iterator = database.iterator(KVStateMachine.keyFamily)
        iterator.seek(KeyIndexCoding.groupPrefix(start))
        // Each key costs at most a seek or two however many versions it has: reads do not walk
        // history that compaction has not dropped yet (a hot key collects thousands).
        while iterator.isValid {
            let parsed = try KeyIndexCoding.parseIndexKey(iterator.key)
            if let end, !parsed.key.lexicographicallyPrecedes(end) { break }
            let prefix = parsed.prefix
            guard parsed.main <= revision else {
                // Versions newer than the read revision: jump to the newest one at or below it.
                iterator.seek(KeyIndexCoding.indexKey(prefix: Array(prefix), main: revision, sub: Int64.max))
                continue
            }
            let stored = try StoredKey(decoding: iterator.value, what: "mvcc key \(printable(parsed.key)) at revision \(parsed.main)")
            if !stored.tombstone { result.append(stored.keyValue(parsed.key, modRevision: parsed.main)) }
            // The key's older versions follow; a key with one version needs no seek.
            iterator.next()
            if iterator.isValid, KeyIndexCoding.isVersion(iterator.key, of: prefix) {
                iterator.seek(KeyIndexCoding.groupEnd(prefix))
            }
        }
        try iterator.check()
        guard revision >= writeRevision, !pending.isEmpty else { return result }
        var merged = Dictionary(uniqueKeysWithValues: result.map { ($0.key, $0) })
        for (pendingKey, entry) in pending where KeyRange.contains(start: start, end: end, pendingKey) {
            merged[pendingKey] = entry.stored.tombstone ? nil : entry.stored.keyValue(pendingKey, modRevision: entry.main)
        }
        return merged.values.sorted { $0.key.lexicographicallyPrecedes($1.key) }
    }

    /// The revision reads see: the current one, which inside a writing transaction includes its writes.
    var readRevision: Int64 { finalRevision }

    func range(_ request: RangeRequest) throws -> RangeResponse {
        let revision = request.revision <= 0 ? readRevision : request.revision
        guard revision <= readRevision else {
            throw StorageError(.unavailable, "mvcc: required revision is a future revision")
        }
        guard revision >= compactedRevision else {
            throw StorageError(.compacted, "mvcc: required revision has been compacted")
        }
        var kvs = try scan(key: request.key, rangeEnd: request.rangeEnd, revision: revision)
        let count = Int64(kvs.count)
        if request.countOnly {
            return RangeResponse(revision: readRevision, kvs: [], more: false, count: count)
        }
        sort(&kvs, order: request.sortOrder, target: request.sortTarget)
        var more = false
        if request.limit > 0, kvs.count > request.limit {
            kvs.removeLast(kvs.count - Int(request.limit))
            more = true
        }
        if request.keysOnly { kvs = kvs.map { KeyValue(key: $0.key, createRevision: $0.createRevision, modRevision: $0.modRevision, version: $0.version, value: [], lease: $0.lease) } }
        return RangeResponse(revision: readRevision, kvs: kvs, more: more, count: count)
    }

    private func sort(_ kvs: inout [KeyValue], order: RangeRequest.SortOrder, target: RangeRequest.SortTarget) {
        if order == .none, target == .key { return }  // already in key order
        let ascending: (KeyValue, KeyValue) -> Bool
        switch target {
        case .key: ascending = { $0.key.lexicographicallyPrecedes($1.key) }
        case .version: ascending = { $0.version < $1.version }
        case .create: ascending = { $0.createRevision < $1.createRevision }
        case .mod: ascending = { $0.modRevision < $1.modRevision }
        case .value: ascending = { $0.value.lexicographicallyPrecedes($1.value) }
        }
        // Stable, with ties in key order, so results are deterministic on every replica.
        let indexed = kvs.enumerated().map { ($0.offset, $0.element) }
        let sorted = indexed.sorted { lhs, rhs in
            if order == .descend {
                if ascending(rhs.1, lhs.1) { return true }
                if ascending(lhs.1, rhs.1) { return false }
            } else {
                if ascending(lhs.1, rhs.1) { return true }
                if ascending(rhs.1, lhs.1) { return false }
            }
            return lhs.0 < rhs.0
        }
        kvs = sorted.map(\.1)
    }

    // MARK: Writes

    private func nextRevision() -> (main: Int64, sub: Int64) {
        defer { nextSub += 1 }
        return (writeRevision, nextSub)
    }

    /// Writes one version of `key`; `previous` is its live version before this write (nil: absent).
    func writeVersion(_ key: [UInt8], _ stored: StoredKey, previous: KeyValue?) throws {
        let previousLease = previous?.lease
        let (main, sub) = nextRevision()
        batch.put(
            family: database.family(KVStateMachine.keyFamily),
            KeyIndexCoding.indexKey(prefix: KeyIndexCoding.groupPrefix(key), main: main, sub: sub), stored.encoded())
        batch.put(
            family: database.family(KVStateMachine.revisionFamily), KeyIndexCoding.revisionKey(main: main, sub: sub),
            KeyIndexCoding.revisionValue(key: key, tombstone: stored.tombstone))
        let leaseFamily = database.family(KVStateMachine.leaseFamily)
        let newLease = stored.tombstone ? 0 : stored.lease
        if let previousLease, previousLease != 0, previousLease != newLease {
            batch.delete(family: leaseFamily, LeaseCoding.attachmentKey(lease: previousLease, key: key))
        }
        if newLease != 0 { batch.put(family: leaseFamily, LeaseCoding.attachmentKey(lease: newLease, key: key), []) }
        try moveAttachment(from: previousLease, to: newLease)
        pending[key] = (stored, main)
        if collectsEvents {
            events.append(
                stored.tombstone
                    ? .delete(key, revision: main, previous: previous)
                    : KVEvent(kind: .put, kv: stored.keyValue(key, modRevision: main), prevKv: previous))
        }
    }

    func put(_ request: PutRequest) throws -> PutResponse {
        try machine.validate(request)
        let previous = try latest(request.key)
        var value = request.value
        var lease = request.lease
        if request.ignoreValue {
            guard request.value.isEmpty else { throw StorageError.invalid("etcdserver: value is provided") }
            guard let previous else { throw StorageError(.invalidArgument, "etcdserver: key not found") }
            value = previous.stored.value
        }
        if request.ignoreLease {
            guard request.lease == 0 else { throw StorageError.invalid("etcdserver: lease is provided") }
            guard let previous else { throw StorageError(.invalidArgument, "etcdserver: key not found") }
            lease = previous.stored.lease
        }
        if lease != 0, try !leaseExists(lease) {
            throw StorageError(.leaseNotFound, "etcdserver: requested lease not found")
        }
        try checkRoom(lease: lease, previousLease: previous?.stored.lease)
        let stored = StoredKey(
            tombstone: false, createRevision: previous?.stored.createRevision ?? writeRevision,
            version: (previous?.stored.version ?? 0) + 1, lease: lease, value: value)
        let previousKv = previous.map { $0.stored.keyValue(request.key, modRevision: $0.main) }
        try writeVersion(request.key, stored, previous: previousKv)
        let prevKv = request.prevKv ? previousKv : nil
        return PutResponse(revision: writeRevision, prevKv: prevKv)
    }

    func deleteRange(_ request: DeleteRangeRequest) throws -> DeleteRangeResponse {
        guard !request.key.isEmpty else { throw StorageError(.emptyKey, "etcdserver: key is not provided") }
        let victims = try scan(key: request.key, rangeEnd: request.rangeEnd, revision: readRevision)
        for victim in victims {
            let tombstone = StoredKey(tombstone: true, createRevision: 0, version: 0, lease: 0, value: [])
            try writeVersion(victim.key, tombstone, previous: victim)
        }
        return DeleteRangeResponse(revision: finalRevision, deleted: Int64(victims.count), prevKvs: request.prevKv ? victims : [])
    }
}


/// A key for an error message: text when it is printable ASCII, hex otherwise.
func printable(_ key: [UInt8]) -> String {
    if key.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return "\"" + String(decoding: key, as: UTF8.self) + "\"" }
    return "0x" + key.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}
