public import Foundation
public import KeelProto

/// A command-line mistake, with etcdctl's exit code for it.
public struct EtcdctlUsageError: Error, Equatable, CustomStringConvertible {
    /// What is wrong, as printed after "Error: ".
    public var message: String
    /// The process exit code etcdctl uses for this kind of mistake.
    public var exitCode: Int32

    /// etcdctl's code for a bad argument (ExitBadArgs).
    public static let badArgumentsExitCode: Int32 = 128
    /// etcdctl's code for unreadable input such as a malformed txn (ExitInvalidInput).
    public static let invalidInputExitCode: Int32 = 3
    /// etcdctl's code for an output format a command does not have (ExitBadFeature).
    public static let badFeatureExitCode: Int32 = 4

    /// Creates the error.
    public init(_ message: String, exitCode: Int32 = Self.badArgumentsExitCode) {
        self.message = message
        self.exitCode = exitCode
    }

    /// The message.
    public var description: String { message }
}

/// The options of `get` (on the command line and inside a txn), as etcdctl names them.
public struct GetOptions: Sendable, Equatable {
    /// Every key with the given key as prefix.
    public var prefix = false
    /// Every key from the given key on.
    public var fromKey = false
    /// Read at this revision; 0 is the newest.
    public var revision: Int64 = 0
    /// At most this many keys; 0 is no limit.
    public var limit: Int64 = 0
    /// Keys without values.
    public var keysOnly = false
    /// Only the count of keys.
    public var countOnly = false
    /// "l" (linearizable, the default) or "s" (serializable).
    public var consistency = "l"
    /// "", "ASCEND" or "DESCEND".
    public var sortOrder = ""
    /// "", "CREATE", "KEY", "MODIFY", "VALUE" or "VERSION".
    public var sortBy = ""

    /// All defaults: a linearizable read of one key.
    public init() {}
}

/// Builds the gRPC requests of etcdctl's `get`, `put` and `del` with etcdctl's checks and messages.
public enum EtcdctlRequests {
    /// The request of `get KEY [RANGE_END]`.
    public static func range(key: Data, rangeEnd: Data?, options: GetOptions) throws(EtcdctlUsageError)
        -> Etcdserverpb_RangeRequest
    {
        if options.prefix && options.fromKey {
            throw EtcdctlUsageError("`--prefix` and `--from-key` cannot be set at the same time, choose one")
        }
        if options.prefix && rangeEnd != nil {
            throw EtcdctlUsageError("too many arguments, only accept one argument when `--prefix` is set.")
        }
        if options.fromKey && rangeEnd != nil {
            throw EtcdctlUsageError("too many arguments, only accept one argument when `--from-key` is set.")
        }
        var request = Etcdserverpb_RangeRequest()
        request.key = key
        if let rangeEnd { request.rangeEnd = rangeEnd }
        if options.prefix {
            if key.isEmpty {
                // An empty prefix means every key: etcd spells that key "\0", range_end "\0".
                request.key = KeyRange.fromKeyEnd
                request.rangeEnd = KeyRange.fromKeyEnd
            } else {
                request.rangeEnd = KeyRange.prefixEnd(key)
            }
        }
        if options.fromKey {
            if key.isEmpty { request.key = KeyRange.fromKeyEnd }
            request.rangeEnd = KeyRange.fromKeyEnd
        }
        guard options.revision >= 0 else { throw EtcdctlUsageError("--rev must not be negative") }
        guard options.limit >= 0 else { throw EtcdctlUsageError("--limit must not be negative") }
        request.revision = options.revision
        request.limit = options.limit
        request.keysOnly = options.keysOnly
        request.countOnly = options.countOnly
        switch options.consistency {
        case "l": request.serializable = false
        case "s": request.serializable = true
        default: throw EtcdctlUsageError("unknown consistency flag \"\(options.consistency)\"")
        }
        switch options.sortOrder.uppercased() {
        case "": request.sortOrder = .none
        case "ASCEND": request.sortOrder = .ascend
        case "DESCEND": request.sortOrder = .descend
        default: throw EtcdctlUsageError("bad sort order \(options.sortOrder)")
        }
        switch options.sortBy.uppercased() {
        case "", "KEY": request.sortTarget = .key
        case "CREATE": request.sortTarget = .create
        case "MODIFY": request.sortTarget = .mod
        case "VALUE": request.sortTarget = .value
        case "VERSION": request.sortTarget = .version
        default: throw EtcdctlUsageError("bad sort target \(options.sortBy)")
        }
        // Sorting by key in ascending order is how etcd answers anyway; clientv3 sends "no sort".
        if request.sortTarget == .key && request.sortOrder == .ascend { request.sortOrder = .none }
        return request
    }

    /// The request of `put KEY VALUE`.
    public static func put(key: Data, value: Data, prevKV: Bool = false, lease: Int64 = 0) -> Etcdserverpb_PutRequest {
        var request = Etcdserverpb_PutRequest()
        request.key = key
        request.value = value
        request.prevKv = prevKV
        request.lease = lease
        return request
    }

    /// The request of `del KEY [RANGE_END]`.
    public static func delete(key: Data, rangeEnd: Data?, prefix: Bool, fromKey: Bool, prevKV: Bool)
        throws(EtcdctlUsageError) -> Etcdserverpb_DeleteRangeRequest
    {
        if prefix && fromKey {
            throw EtcdctlUsageError("`--prefix` and `--from-key` cannot be set at the same time, choose one")
        }
        if prefix && rangeEnd != nil {
            throw EtcdctlUsageError("too many arguments, only accept one argument when `--prefix` is set.")
        }
        if fromKey && rangeEnd != nil {
            throw EtcdctlUsageError("too many arguments, only accept one argument when `--from-key` is set.")
        }
        var request = Etcdserverpb_DeleteRangeRequest()
        request.key = key
        if let rangeEnd { request.rangeEnd = rangeEnd }
        if prefix {
            if key.isEmpty {
                request.key = KeyRange.fromKeyEnd
                request.rangeEnd = KeyRange.fromKeyEnd
            } else {
                request.rangeEnd = KeyRange.prefixEnd(key)
            }
        }
        if fromKey {
            if key.isEmpty { request.key = KeyRange.fromKeyEnd }
            request.rangeEnd = KeyRange.fromKeyEnd
        }
        request.prevKv = prevKV
        return request
    }
}
