/// A key's state as etcd's `mvccpb.KeyValue` reports it.
public struct KeyValue: Hashable, Sendable {
    /// The key.
    public var key: [UInt8]
    /// The revision of the write that created the key (since its last deletion).
    public var createRevision: Int64
    /// The revision of the write that last changed the key.
    public var modRevision: Int64
    /// How many times the key was written since it was created; 1 after creation.
    public var version: Int64
    /// The value (empty when the request asked for keys only).
    public var value: [UInt8]
    /// The lease the key is attached to, 0 for none.
    public var lease: Int64

    /// Creates a key-value.
    public init(key: [UInt8], createRevision: Int64, modRevision: Int64, version: Int64, value: [UInt8], lease: Int64) {
        self.key = key
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.value = value
        self.lease = lease
    }
}

/// etcd's RangeRequest. `rangeEnd` empty means the single key `key`; `[0]` means every key `>= key`
/// (and with `key == [0]`, every key); otherwise the half-open range `[key, rangeEnd)`.
public struct RangeRequest: Hashable, Sendable {
    /// The key, or the start of the range.
    public var key: [UInt8]
    /// The end of the range (exclusive); see the type's documentation.
    public var rangeEnd: [UInt8]
    /// The most keys to return; 0 for no limit.
    public var limit: Int64
    /// The revision to read at; 0 or less for the current revision.
    public var revision: Int64
    /// Result order.
    public var sortOrder: SortOrder
    /// Result sort key.
    public var sortTarget: SortTarget
    /// Return keys without values.
    public var keysOnly: Bool
    /// Return only the count.
    public var countOnly: Bool

    /// Creates a range request.
    public init(
        key: [UInt8], rangeEnd: [UInt8] = [], limit: Int64 = 0, revision: Int64 = 0,
        sortOrder: SortOrder = .none, sortTarget: SortTarget = .key, keysOnly: Bool = false, countOnly: Bool = false
    ) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.limit = limit
        self.revision = revision
        self.sortOrder = sortOrder
        self.sortTarget = sortTarget
        self.keysOnly = keysOnly
        self.countOnly = countOnly
    }

    /// A request for every key starting with `prefix`.
    public static func prefix(_ prefix: [UInt8], limit: Int64 = 0, revision: Int64 = 0) -> RangeRequest {
        RangeRequest(key: prefix, rangeEnd: KeyRange.prefixEnd(prefix), limit: limit, revision: revision)
    }
}

/// Sorting of Range results; nested so it does not clash with Foundation's `SortOrder`.
extension RangeRequest {
    /// The order of Range results.
    public enum SortOrder: UInt8, Sendable {
        /// Key order ascending (etcd's default).
        case none = 0
        /// Ascending by the sort target.
        case ascend = 1
        /// Descending by the sort target.
        case descend = 2
    }

    /// What Range results are sorted by.
    public enum SortTarget: UInt8, Sendable {
        /// The key bytes.
        case key = 0
        /// The key's version.
        case version = 1
        /// The create revision.
        case create = 2
        /// The mod revision.
        case mod = 3
        /// The value bytes.
        case value = 4
    }
}

/// etcd's RangeResponse.
public struct RangeResponse: Hashable, Sendable {
    /// The store's revision when the read was served.
    public var revision: Int64
    /// The matching keys (at most `limit`; none when `countOnly`).
    public var kvs: [KeyValue]
    /// Whether more keys matched than were returned.
    public var more: Bool
    /// How many keys matched in total.
    public var count: Int64

    /// A response with these fields.
    public init(revision: Int64, kvs: [KeyValue], more: Bool, count: Int64) {
        self.revision = revision
        self.kvs = kvs
        self.more = more
        self.count = count
    }
}

/// etcd's PutRequest.
public struct PutRequest: Hashable, Sendable {
    /// The key; must not be empty.
    public var key: [UInt8]
    /// The new value.
    public var value: [UInt8]
    /// The lease to attach, 0 for none.
    public var lease: Int64
    /// Return the previous key-value.
    public var prevKv: Bool
    /// Keep the current value (the key must exist and `value` must be empty).
    public var ignoreValue: Bool
    /// Keep the current lease (`lease` must be 0).
    public var ignoreLease: Bool

    /// Creates a put request.
    public init(key: [UInt8], value: [UInt8], lease: Int64 = 0, prevKv: Bool = false, ignoreValue: Bool = false, ignoreLease: Bool = false) {
        self.key = key
        self.value = value
        self.lease = lease
        self.prevKv = prevKv
        self.ignoreValue = ignoreValue
        self.ignoreLease = ignoreLease
    }
}

/// etcd's PutResponse.
public struct PutResponse: Hashable, Sendable {
    /// The store's revision after the put.
    public var revision: Int64
    /// The previous key-value, when requested and the key existed.
    public var prevKv: KeyValue?

    /// A response with these fields.
    public init(revision: Int64, prevKv: KeyValue?) {
        self.revision = revision
        self.prevKv = prevKv
    }
}

/// etcd's DeleteRangeRequest; `key`/`rangeEnd` as in ``RangeRequest``.
public struct DeleteRangeRequest: Hashable, Sendable {
    /// The key, or the start of the range.
    public var key: [UInt8]
    /// The end of the range (exclusive).
    public var rangeEnd: [UInt8]
    /// Return the deleted key-values.
    public var prevKv: Bool

    /// Creates a delete request.
    public init(key: [UInt8], rangeEnd: [UInt8] = [], prevKv: Bool = false) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.prevKv = prevKv
    }
}

/// etcd's DeleteRangeResponse.
public struct DeleteRangeResponse: Hashable, Sendable {
    /// The store's revision after the delete.
    public var revision: Int64
    /// How many keys were deleted.
    public var deleted: Int64
    /// The deleted key-values, when requested.
    public var prevKvs: [KeyValue]

    /// A response with these fields.
    public init(revision: Int64, deleted: Int64, prevKvs: [KeyValue]) {
        self.revision = revision
        self.deleted = deleted
        self.prevKvs = prevKvs
    }
}

/// How a ``Compare`` relates the stored field to the given one.
public enum CompareResult: UInt8, Sendable {
    /// Equal.
    case equal = 0
    /// Greater than.
    case greater = 1
    /// Less than.
    case less = 2
    /// Not equal.
    case notEqual = 3
}

/// The field a ``Compare`` reads, with the operand.
public enum CompareTarget: Hashable, Sendable {
    /// The key's version (0 when absent).
    case version(Int64)
    /// The create revision (0 when absent).
    case create(Int64)
    /// The mod revision (0 when absent).
    case mod(Int64)
    /// The value (an absent key fails every value comparison).
    case value([UInt8])
    /// The lease id (0 when absent).
    case lease(Int64)
}

/// One guard of a Txn. With a `rangeEnd`, every key in the range must satisfy it.
public struct Compare: Hashable, Sendable {
    /// The relation.
    public var result: CompareResult
    /// The field and operand.
    public var target: CompareTarget
    /// The key, or the start of the range.
    public var key: [UInt8]
    /// The end of the range; empty for a single key.
    public var rangeEnd: [UInt8]

    /// Creates a comparison.
    public init(key: [UInt8], rangeEnd: [UInt8] = [], target: CompareTarget, result: CompareResult) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.target = target
        self.result = result
    }
}

/// One operation of a Txn branch.
public indirect enum RequestOp: Hashable, Sendable {
    /// A read.
    case range(RangeRequest)
    /// A write.
    case put(PutRequest)
    /// A delete.
    case deleteRange(DeleteRangeRequest)
    /// A nested transaction.
    case txn(TxnRequest)
}

/// The result of one ``RequestOp``.
public indirect enum ResponseOp: Hashable, Sendable {
    /// A read's result.
    case range(RangeResponse)
    /// A write's result.
    case put(PutResponse)
    /// A delete's result.
    case deleteRange(DeleteRangeResponse)
    /// A nested transaction's result.
    case txn(TxnResponse)
}

/// etcd's TxnRequest: if every compare holds, run `success`, else `failure`, atomically.
public struct TxnRequest: Hashable, Sendable {
    /// The guards.
    public var compare: [Compare]
    /// Operations when every guard holds.
    public var success: [RequestOp]
    /// Operations otherwise.
    public var failure: [RequestOp]

    /// Creates a transaction.
    public init(compare: [Compare] = [], success: [RequestOp] = [], failure: [RequestOp] = []) {
        self.compare = compare
        self.success = success
        self.failure = failure
    }

    /// Whether neither branch writes (nested transactions included): such a transaction changes
    /// nothing whichever branch runs, so it can be answered like a read, without a log entry.
    public var isReadOnly: Bool {
        (success + failure).allSatisfy { op in
            switch op {
            case .range: true
            case .put, .deleteRange: false
            case .txn(let inner): inner.isReadOnly
            }
        }
    }
}

/// etcd's TxnResponse.
public struct TxnResponse: Hashable, Sendable {
    /// The store's revision after the transaction.
    public var revision: Int64
    /// Whether the guards held.
    public var succeeded: Bool
    /// One response per operation of the branch that ran.
    public var responses: [ResponseOp]

    /// A response with these fields.
    public init(revision: Int64, succeeded: Bool, responses: [ResponseOp]) {
        self.revision = revision
        self.succeeded = succeeded
        self.responses = responses
    }
}

/// Helpers for etcd's range conventions.
public enum KeyRange {
    /// The smallest key greater than every key with this prefix (etcd's `GetPrefixRangeEnd`);
    /// `[0]` (everything from the key) when the prefix is all `0xFF`.
    public static func prefixEnd(_ prefix: [UInt8]) -> [UInt8] {
        var end = prefix
        while let last = end.last {
            if last < 0xFF {
                end[end.count - 1] = last + 1
                return end
            }
            end.removeLast()
        }
        return [0]
    }

    /// etcd's `key`/`rangeEnd` convention as `[start, end)`: an empty end is the single key, `[0]`
    /// every key from `key` on (end nil: unbounded).
    public static func bounds(key: [UInt8], rangeEnd: [UInt8]) -> (start: [UInt8], end: [UInt8]?) {
        if rangeEnd.isEmpty { return (key, key + [0]) }
        if rangeEnd == [0] { return (key, nil) }
        return (key, rangeEnd)
    }

    /// Whether `key` lies in `[start, end)` (end nil: unbounded).
    public static func contains(start: [UInt8], end: [UInt8]?, _ key: [UInt8]) -> Bool {
        !key.lexicographicallyPrecedes(start) && (end.map { key.lexicographicallyPrecedes($0) } ?? true)
    }
}
