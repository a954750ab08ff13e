import Raft

/// What applying one command produced.
public enum KVResponse: Hashable, Sendable {
    /// A Range's result.
    case range(RangeResponse)
    /// A Put's result.
    case put(PutResponse)
    /// A DeleteRange's result.
    case deleteRange(DeleteRangeResponse)
    /// A Txn's result.
    case txn(TxnResponse)
    /// A Compact's result: the store's revision.
    case compact(revision: Int64)
    /// A lease was granted.
    case leaseGrant(id: Int64, ttlSeconds: Int64)
    /// A lease was revoked; the store's revision after deleting its keys.
    case leaseRevoke(id: Int64, revision: Int64)
    /// Leases' remaining TTLs were recorded: those of the checkpoints whose lease exists.
    case leaseCheckpoint([LeaseCheckpoint])
    /// An Alarm call's result: the alarms it listed, raised or cleared (etcd's `AlarmResponse.alarms`).
    case alarm([AlarmMember])
    /// An entry without a command (a leader's no-op) or a configuration change.
    case none
}

/// The MVCC key-value state machine with etcd's semantics, stored in RocksDB.
///
/// Every write transaction gets the next main revision; the writes inside it get sub-revisions
/// 0, 1, 2…. A key's versions stay readable at older revisions until ``KVCommand/compact(revision:)``.
/// Applying a committed entry and recording its index are one atomic write, so after a crash an
/// entry is either fully applied and recorded or neither: it is never applied twice or skipped.
public final class KVStateMachine {
    static let keyFamily = "kv_key"
    static let revisionFamily = "kv_rev"
    static let metaFamily = "kv_meta"
    static let leaseFamily = "kv_lease"
    static let families = [keyFamily, revisionFamily, metaFamily, leaseFamily]
    static let appliedKey = Array("applied".utf8)
    static let revisionKey = Array("revision".utf8)
    static let revisionBaseKey = Array("revision_base".utf8)
    static let compactedKey = Array("compacted".utf8)
    static let membershipKey = Array("membership".utf8)
    /// The host's description of the members (names and addresses), opaque here; written with the
    /// membership so both move together, and carried by snapshots like every meta key.
    static let membersKey = Array("members".utf8)
    static let alarmsKey = Array("alarms".utf8)

    let database: RocksDatabase
    let valueBytesMax: Int
    let keysPerLeaseMax: Int64
    private let syncApplies: Bool

    /// The index of the last applied entry.
    public private(set) var appliedIndex: LogIndex
    /// The term of that entry, when the host told us.
    public private(set) var appliedTerm: Term
    /// The revision of a store nothing was written to. etcd starts at 1, so a fresh store answers
    /// revision 1 and the first write gets 2; clients and tools that compare revisions across
    /// stores (etcdctl, watch resumption) see the same numbers from Keel as from etcd.
    public static let initialRevision: Int64 = 1

    /// The current revision: that of the last write transaction (``initialRevision`` before any).
    public private(set) var revision: Int64
    /// The revision history has been compacted to; reads below it fail.
    public private(set) var compactedRevision: Int64
    /// The membership as of the applied index.
    public private(set) var membership: ConfState
    /// The alarms raised as of the applied index, in the order they were raised.
    public internal(set) var alarms: [AlarmMember] = []
    /// Told of every change right after it is written (the watch hub); set before the first
    /// apply and only on the applying thread.
    public weak var observer: (any KVChangeObserver)?

    init(database: RocksDatabase, options: StorageOptions) throws {
        self.database = database
        valueBytesMax = options.valueBytesMax
        keysPerLeaseMax = options.keysPerLeaseMax
        syncApplies = options.syncApplies
        (appliedIndex, appliedTerm) = (.zero, .zero)
        (revision, compactedRevision, membership) = (Self.initialRevision, 0, ConfState())
        if try reloadMeta() == nil { try recordRevisionBase() }
    }

    /// A new store records the revision its numbering starts from before anything else, so that a
    /// store without that record is known to come from a build that started at 0: continuing its
    /// numbers would leave it one revision behind replicas that replayed the same log from scratch,
    /// and transactions comparing revisions would take different branches on different replicas.
    private func recordRevisionBase() throws {
        let batch = RocksWriteBatch()
        batch.put(family: database.family(Self.metaFamily), Self.revisionBaseKey, Self.encodeInt(Self.initialRevision))
        batch.put(family: database.family(Self.metaFamily), Self.revisionKey, Self.encodeInt(Self.initialRevision))
        try database.write(batch, sync: true)
    }

    /// Reads the applied index, revisions and membership; returns the recorded revision base, nil for
    /// a store with nothing in it yet. A store with state but no base predates revision base 1.
    @discardableResult
    func reloadMeta() throws -> Int64? {
        let appliedBytes = try database.get(Self.metaFamily, Self.appliedKey)
        if let bytes = appliedBytes {
            var reader = try Record.open(bytes, what: "applied index")
            appliedIndex = LogIndex(try reader.u64())
            appliedTerm = Term(try reader.u64())
            try reader.finish()
        } else {
            (appliedIndex, appliedTerm) = (.zero, .zero)
        }
        let storedRevision = try Self.readInt(database, Self.revisionKey, what: "revision")
        revision = storedRevision ?? Self.initialRevision
        compactedRevision = try Self.readInt(database, Self.compactedKey, what: "compacted revision") ?? 0
        membership = try database.get(Self.metaFamily, Self.membershipKey).map(RaftCoding.decodeConfState) ?? ConfState()
        alarms = try database.get(Self.metaFamily, Self.alarmsKey).map(Self.decodeAlarms) ?? []
        let base = try Self.readInt(database, Self.revisionBaseKey, what: "revision base")
        if let base, base != Self.initialRevision {
            throw StorageError(.unsupportedVersion, "key-value store: revisions start at \(base), this build numbers from \(Self.initialRevision)")
        }
        if base == nil, appliedBytes != nil || storedRevision != nil {
            throw StorageError(
                .unsupportedVersion,
                "key-value store: written by an older Keel whose revisions started at 0 (this build starts at etcd's 1 "
                    + "and cannot continue those numbers consistently with other replicas); start this member on an empty data directory so it catches up from the cluster")
        }
        return base
    }

    static func readInt(_ database: RocksDatabase, _ key: [UInt8], what: String) throws -> Int64? {
        guard let bytes = try database.get(metaFamily, key) else { return nil }
        var reader = try Record.open(bytes, what: what)
        let value = try reader.i64()
        try reader.finish()
        return value
    }

    static func encodeInt(_ value: Int64) -> [UInt8] {
        var writer = ByteWriter()
        writer.i64(value)
        return Record.seal(writer.bytes)
    }

    static func encodeApplied(_ index: LogIndex, _ term: Term) -> [UInt8] {
        var writer = ByteWriter()
        writer.u64(index.rawValue)
        writer.u64(term.rawValue)
        return Record.seal(writer.bytes)
    }

    /// Applies a committed entry's data (an encoded ``KVCommand``; empty for a no-op) and records
    /// `index` as applied in the same atomic write.
    ///
    /// Returns nil, doing nothing, when `index` was already applied. A command that fails (a missing
    /// lease, a compacted revision, a value over the limit, undecodable bytes…) is still recorded as
    /// applied, because every replica fails it the same way; its error is the `.failure` result and
    /// nothing else is stored. Failures of the store itself (I/O, corruption) and commands in a
    /// format this build does not know (`unsupportedVersion`) are thrown and record nothing.
    @discardableResult
    public func apply(index: LogIndex, term: Term = .zero, entryData: [UInt8]) throws -> Result<KVResponse, StorageError>? {
        guard index > appliedIndex else { return nil }
        if entryData.isEmpty { return try record(index: index, term: term, .success(.none)) }
        let command: KVCommand
        do {
            command = try KVCommand(decoding: entryData)
        } catch let error as StorageError where error.code != .unsupportedVersion {
            // Undecodable bytes fail alike on every replica.
            return try record(index: index, term: term, .failure(error))
        }
        let transaction = KVWriteTransaction(machine: self)
        let response: KVResponse
        do {
            response = try transaction.execute(command)
        } catch let error as StorageError where Self.isCommandError(error) {
            return try record(index: index, term: term, .failure(error))
        }
        let batch = transaction.batch
        batch.put(family: database.family(Self.metaFamily), Self.appliedKey, Self.encodeApplied(index, term))
        try database.write(batch, sync: syncApplies)
        appliedIndex = index
        appliedTerm = term
        let changed = revision != transaction.finalRevision || compactedRevision != transaction.compactedRevision
        revision = transaction.finalRevision
        compactedRevision = transaction.compactedRevision
        if let changedAlarms = transaction.alarms { alarms = changedAlarms }
        if changed { observer?.applied(transaction.events, revision: revision, compactedRevision: compactedRevision) }
        return .success(response)
    }

    /// The host's member descriptions as last recorded (``applyConfChange(index:term:confState:members:)``),
    /// read from disk: a leader's snapshot may have replaced them.
    public func members() throws -> [UInt8]? { try database.get(Self.metaFamily, Self.membersKey) }

    /// Records the members' descriptions outside any entry, synced: the founding members of a
    /// cluster (or of one whose data predates the descriptions).
    public func recordMembers(_ members: [UInt8]) throws {
        try database.put(Self.metaFamily, Self.membersKey, members, sync: true)
    }

    /// Records a configuration change entry: the new membership, the host's description of the
    /// members when given, and the applied index, atomically.
    public func applyConfChange(index: LogIndex, term: Term = .zero, confState: ConfState, members: [UInt8]? = nil) throws {
        guard index > appliedIndex else { return }
        let batch = RocksWriteBatch()
        batch.put(family: database.family(Self.metaFamily), Self.membershipKey, RaftCoding.encode(confState))
        if let members { batch.put(family: database.family(Self.metaFamily), Self.membersKey, members) }
        batch.put(family: database.family(Self.metaFamily), Self.appliedKey, Self.encodeApplied(index, term))
        try database.write(batch, sync: syncApplies)
        appliedIndex = index
        appliedTerm = term
        membership = confState
    }

    /// Records `confState` as the membership without applying an entry: a cluster restored from a
    /// backup keeps the backup's state and applied index under its own membership.
    public func replaceMembership(_ confState: ConfState) throws {
        try database.put(Self.metaFamily, Self.membershipKey, RaftCoding.encode(confState), sync: true)
        membership = confState
    }

    private func record(index: LogIndex, term: Term, _ result: Result<KVResponse, StorageError>) throws -> Result<KVResponse, StorageError> {
        try database.put(Self.metaFamily, Self.appliedKey, Self.encodeApplied(index, term), sync: syncApplies)
        appliedIndex = index
        appliedTerm = term
        return result
    }

    /// Errors that belong to the command rather than to the store. A format this build does not
    /// understand is not one: replicas on a newer build apply the command, so recording it here as
    /// failed would make this replica diverge; it stops until it is upgraded instead.
    static func isCommandError(_ error: StorageError) -> Bool {
        ![StorageError.Code.io, .rocksdb, .corruption, .unsupportedVersion].contains(error.code)
    }

    /// Serves a read outside the log (a serializable read in etcd's terms), at the applied state.
    public func range(_ request: RangeRequest) throws -> RangeResponse {
        try Self.requireKey(request.key)
        return try KVWriteTransaction(machine: self).range(request)
    }

    /// Serves a command that writes nothing, a Range or a read-only Txn, at the applied state and
    /// outside the log, as etcd serves them once a read index is confirmed (thesis §6.4): a
    /// transaction that changes nothing whichever branch runs needs no entry of its own.
    public func read(_ command: KVCommand) throws -> KVResponse {
        // Both paths validate the request themselves (empty keys, duplicate keys).
        switch command {
        case .range(let request): return .range(try range(request))
        case .txn(let request) where request.isReadOnly:
            let transaction = KVWriteTransaction(machine: self)
            let response = try transaction.execute(command)
            // Whatever isReadOnly says, a transaction that wrote would answer with a revision for a
            // write that never reaches the log or the disk.
            guard transaction.batch.count == 0 else {
                throw StorageError.invalid("a transaction classified as read-only wrote; it must go through the log")
            }
            return response
        default:
            throw StorageError.invalid("only a Range or a read-only Txn can be served outside the log, not \(command)")
        }
    }

    /// Checks a request the way etcd's server does before proposing it, so the embedded store can
    /// refuse it without consuming a revision.
    public func validate(_ command: KVCommand) throws {
        switch command {
        case .put(let request): try validate(request)
        case .txn(let request): try validate(request)
        case .range(let request): try Self.requireKey(request.key)
        case .deleteRange(let request): try Self.requireKey(request.key)
        case .compact, .leaseGrant, .leaseRevoke, .leaseCheckpoint, .alarm: break
        }
    }

    /// etcd refuses an empty key in every request that names one (Range, Put, DeleteRange, a Txn's
    /// compares and operations), including `""` with a range end, which would mean "from the start".
    static func requireKey(_ key: [UInt8]) throws {
        guard !key.isEmpty else { throw StorageError(.emptyKey, "etcdserver: key is not provided") }
    }

    /// etcd's check that a Txn writes no key twice (two puts, or a put inside a deleted range,
    /// nested transactions included), as a pure function of the request: a Raft host calls it
    /// before proposing, so a bad Txn never reaches the log.
    public static func checkDuplicateKeys(in request: TxnRequest) throws {
        try KVWriteTransaction.checkDuplicates(request)
    }

    func validate(_ request: PutRequest) throws {
        try Self.requireKey(request.key)
        guard request.value.count <= valueBytesMax else {
            throw StorageError(
                .valueTooLarge,
                "etcdserver: request is too large: value of \(request.value.count) bytes exceeds the limit of \(valueBytesMax) bytes")
        }
    }

    func validate(_ request: TxnRequest) throws {
        for compare in request.compare { try Self.requireKey(compare.key) }
        for op in request.success + request.failure {
            switch op {
            case .put(let put): try validate(put)
            case .txn(let inner): try validate(inner)
            case .range(let range): try Self.requireKey(range.key)
            case .deleteRange(let delete): try Self.requireKey(delete.key)
            }
        }
    }
}
