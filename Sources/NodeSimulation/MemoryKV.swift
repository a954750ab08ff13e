import KeelStorage

/// An in-memory key-value state machine with etcd's revision rules, for the node simulation: every
/// write transaction that changes something takes the next revision; a key's version counts its
/// writes since it was created. It keeps only the current state (no history): the simulation's
/// clients read current values, and a read at a past revision is refused. Leases as the RocksDB
/// state machine keeps them: granted, checkpointed and revoked through the log, a revoke deleting
/// every key attached to the lease in one revision.
struct MemoryKV: Hashable, Sendable {
    /// Current state by key.
    private(set) var keys: [[UInt8]: KeyValue] = [:]
    /// The store's revision (1 when empty, as etcd's).
    private(set) var revision: Int64 = 1
    /// Revisions at or below this were compacted.
    private(set) var compactedRevision: Int64 = 0
    /// Leases by id; a record's key count is derived from `keys` (see ``leaseRecords``).
    private(set) var leases: [Int64: LeaseRecord] = [:]

    /// Every lease, in id order, with its attached keys counted.
    var leaseRecords: [LeaseRecord] {
        var counts: [Int64: Int64] = [:]
        for kv in keys.values where kv.lease != 0 { counts[kv.lease, default: 0] += 1 }
        return leases.keys.sorted().map { id in
            var record = leases[id]!
            record.keyCount = counts[id] ?? 0
            return record
        }
    }

    /// What a command did, or the error every replica gives it alike.
    mutating func apply(_ command: KVCommand) -> Result<KVResponse, StorageError> {
        var next = self
        next.revision = revision + 1
        var changed = false
        let result = next.execute(command, changed: &changed)
        guard case .success = result else { return result }
        if !changed { next.revision = revision }
        let response = Self.stamp(result, revision: next.revision)
        self = next
        return response
    }

    /// Serves a Range or a read-only Txn.
    func read(_ command: KVCommand) -> Result<KVResponse, StorageError> {
        var copy = self
        var changed = false
        let result = copy.execute(command, changed: &changed)
        precondition(!changed, "memory kv: a read changed the state")
        return Self.stamp(result, revision: revision)
    }

    private static func stamp(_ result: Result<KVResponse, StorageError>, revision: Int64) -> Result<KVResponse, StorageError> {
        result.map { response in
            switch response {
            case .range(var range):
                range.revision = revision
                return .range(range)
            case .put(var put):
                put.revision = revision
                return .put(put)
            case .deleteRange(var deleted):
                deleted.revision = revision
                return .deleteRange(deleted)
            case .txn(var txn):
                txn.revision = revision
                return .txn(txn)
            default: return response
            }
        }
    }

    /// Runs one command on `self` (already at the candidate revision); `changed` tells whether it wrote.
    private mutating func execute(_ command: KVCommand, changed: inout Bool) -> Result<KVResponse, StorageError> {
        switch command {
        case .range(let request):
            guard request.revision == 0 else {
                return .failure(StorageError(.invalidArgument, "memory kv: reads at past revisions are not simulated"))
            }
            return .success(.range(range(request.key, request.rangeEnd)))
        case .put(let request):
            guard !request.ignoreValue, !request.ignoreLease else {
                return .failure(StorageError(.invalidArgument, "memory kv: ignore_value and ignore_lease are not simulated"))
            }
            if request.lease != 0, leases[request.lease] == nil {
                return .failure(StorageError(.leaseNotFound, "etcdserver: requested lease not found"))
            }
            let previous = keys[request.key]
            keys[request.key] = KeyValue(
                key: request.key, createRevision: previous?.createRevision ?? revision, modRevision: revision,
                version: (previous?.version ?? 0) + 1, value: request.value, lease: request.lease)
            changed = true
            return .success(.put(PutResponse(revision: revision, prevKv: request.prevKv ? previous : nil)))
        case .deleteRange(let request):
            let doomed = range(request.key, request.rangeEnd).kvs
            for kv in doomed { keys[kv.key] = nil }
            if !doomed.isEmpty { changed = true }
            return .success(.deleteRange(DeleteRangeResponse(revision: revision, deleted: Int64(doomed.count), prevKvs: request.prevKv ? doomed : [])))
        case .txn(let request):
            let succeeded = request.compare.allSatisfy(holds)
            var responses: [ResponseOp] = []
            for op in succeeded ? request.success : request.failure {
                switch execute(Self.command(op), changed: &changed) {
                case .success(.range(let response)): responses.append(.range(response))
                case .success(.put(let response)): responses.append(.put(response))
                case .success(.deleteRange(let response)): responses.append(.deleteRange(response))
                case .success(.txn(let response)): responses.append(.txn(response))
                case .success(let other): preconditionFailure("memory kv: a txn operation answered \(other)")
                case .failure(let error): return .failure(error)
                }
            }
            return .success(.txn(TxnResponse(revision: revision, succeeded: succeeded, responses: responses)))
        case .compact(let target):
            guard target > compactedRevision else { return .failure(StorageError(.compacted, "memory kv: compacted")) }
            guard target < revision else { return .failure(StorageError(.invalidArgument, "memory kv: future revision")) }
            compactedRevision = target
            return .success(.compact(revision: revision - 1))
        case .leaseGrant(let id, let ttl):
            guard id > 0 else { return .failure(StorageError(.invalidArgument, "etcdserver: lease id must be positive, got \(id)")) }
            guard ttl > 0, ttl <= LeaseLimits.ttlSecondsMax else { return .failure(StorageError(.invalidArgument, "etcdserver: too large lease TTL")) }
            guard leases[id] == nil else { return .failure(StorageError(.leaseExists, "etcdserver: lease already exists")) }
            leases[id] = LeaseRecord(id: id, ttlSeconds: ttl)
            return .success(.leaseGrant(id: id, ttlSeconds: ttl))
        case .leaseRevoke(let id):
            guard leases[id] != nil else { return .failure(StorageError(.leaseNotFound, "etcdserver: requested lease not found")) }
            let attached = keys.values.filter { $0.lease == id }
            for kv in attached { keys[kv.key] = nil }
            if !attached.isEmpty { changed = true }
            leases[id] = nil
            return .success(.leaseRevoke(id: id, revision: changed ? revision : revision - 1))
        case .leaseCheckpoint(let checkpoints):
            var applied: [LeaseCheckpoint] = []
            for checkpoint in checkpoints {
                // The lease may have been revoked after the leader read its timer: nothing to record.
                guard var record = leases[checkpoint.id] else { continue }
                record.checkpointedMilliseconds = checkpoint.remainingMilliseconds.map { max(1, $0) }
                leases[checkpoint.id] = record
                applied.append(LeaseCheckpoint(id: checkpoint.id, remainingMilliseconds: record.checkpointedMilliseconds))
            }
            return .success(.leaseCheckpoint(applied))
        case .alarm:
            return .failure(StorageError(.invalidArgument, "memory kv: alarms are not simulated"))
        }
    }

    private static func command(_ op: RequestOp) -> KVCommand {
        switch op {
        case .range(let request): .range(request)
        case .put(let request): .put(request)
        case .deleteRange(let request): .deleteRange(request)
        case .txn(let request): .txn(request)
        }
    }

    private func range(_ key: [UInt8], _ rangeEnd: [UInt8]) -> RangeResponse {
        let kvs: [KeyValue]
        if rangeEnd.isEmpty {
            kvs = keys[key].map { [$0] } ?? []
        } else {
            let all = rangeEnd == [0]
            kvs = keys.values.filter { kv in
                !kv.key.lexicographicallyPrecedes(key) && (all || kv.key.lexicographicallyPrecedes(rangeEnd))
            }.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        }
        return RangeResponse(revision: revision, kvs: kvs, more: false, count: Int64(kvs.count))
    }

    private func holds(_ compare: Compare) -> Bool {
        let kv = keys[compare.key]
        let order: Int
        switch compare.target {
        case .value(let value):
            guard let kv else { return false }
            order = kv.value == value ? 0 : (kv.value.lexicographicallyPrecedes(value) ? -1 : 1)
        case .version(let version): order = Self.order(kv?.version ?? 0, version)
        case .create(let revision): order = Self.order(kv?.createRevision ?? 0, revision)
        case .mod(let revision): order = Self.order(kv?.modRevision ?? 0, revision)
        case .lease(let lease): order = Self.order(kv?.lease ?? 0, lease)
        }
        switch compare.result {
        case .equal: return order == 0
        case .greater: return order > 0
        case .less: return order < 0
        case .notEqual: return order != 0
        }
    }

    private static func order(_ a: Int64, _ b: Int64) -> Int { a == b ? 0 : (a < b ? -1 : 1) }

    /// The state as bytes (a simulated image).
    func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        func int(_ value: Int64) { withUnsafeBytes(of: value.bigEndian) { bytes += $0 } }
        func data(_ value: [UInt8]) {
            int(Int64(value.count))
            bytes += value
        }
        int(revision)
        int(compactedRevision)
        int(Int64(keys.count))
        for kv in keys.values.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            data(kv.key)
            int(kv.createRevision)
            int(kv.modRevision)
            int(kv.version)
            data(kv.value)
            int(kv.lease)
        }
        int(Int64(leases.count))
        for id in leases.keys.sorted() {
            int(id)
            int(leases[id]!.ttlSeconds)
            int(leases[id]!.checkpointedMilliseconds ?? -1)
        }
        return bytes
    }

    /// Decodes ``encoded()``; nil for bytes it did not make.
    init?(decoding bytes: [UInt8]) {
        var offset = 0
        func int() -> Int64? {
            guard offset + 8 <= bytes.count else { return nil }
            defer { offset += 8 }
            return bytes[offset..<offset + 8].reduce(0) { $0 << 8 | Int64($1) }
        }
        func data() -> [UInt8]? {
            guard let count = int(), count >= 0, offset + Int(count) <= bytes.count else { return nil }
            defer { offset += Int(count) }
            return Array(bytes[offset..<offset + Int(count)])
        }
        guard let revision = int(), let compacted = int(), let count = int(), count >= 0 else { return nil }
        self.revision = revision
        compactedRevision = compacted
        for _ in 0..<count {
            guard let key = data(), let create = int(), let mod = int(), let version = int(), let value = data(), let lease = int() else {
                return nil
            }
            keys[key] = KeyValue(key: key, createRevision: create, modRevision: mod, version: version, value: value, lease: lease)
        }
        guard let leaseCount = int(), leaseCount >= 0 else { return nil }
        for _ in 0..<leaseCount {
            guard let id = int(), let ttl = int(), let checkpointed = int() else { return nil }
            leases[id] = LeaseRecord(id: id, ttlSeconds: ttl, checkpointedMilliseconds: checkpointed < 0 ? nil : checkpointed)
        }
        guard offset == bytes.count else { return nil }
    }

    /// An empty store.
    init() {}
}
