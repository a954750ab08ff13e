/// An error from KeelStorage: a stable `code` callers can match on and a message for humans.
///
/// Codes are static members of a struct rather than enum cases, so that new codes can be added
/// without breaking a caller's `switch` (STYLE.md, "Do this, not that" 3).
public struct StorageError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public var code: Code
    /// A human-readable explanation, including RocksDB's own message when it came from RocksDB.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`, the form a user sees.
    public var description: String { "\(code): \(message)" }

    /// The kind of a ``StorageError``.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The code's name.
        public var description: String { name }

        /// Stored bytes failed a checksum, a format check or a log invariant.
        public static let corruption = Code("corruption")
        /// The operating system reported an I/O failure.
        public static let io = Code("io")
        /// The caller passed something the store cannot accept.
        public static let invalidArgument = Code("invalidArgument")
        /// Any other failure reported by RocksDB.
        public static let rocksdb = Code("rocksdb")
        /// The requested log entries or revision were discarded by compaction.
        public static let compacted = Code("compacted")
        /// The requested log entries or revision do not exist yet.
        public static let unavailable = Code("unavailable")
        /// A value is larger than the configured limit.
        public static let valueTooLarge = Code("valueTooLarge")
        /// A key is empty.
        public static let emptyKey = Code("emptyKey")
        /// A lease id does not name a granted lease.
        public static let leaseNotFound = Code("leaseNotFound")
        /// A lease with that id exists already.
        public static let leaseExists = Code("leaseExists")
        /// A request would go past a configured limit (keys per lease).
        public static let limitExceeded = Code("limitExceeded")
        /// A snapshot stream is torn, out of order or fails its checksums.
        public static let snapshotInvalid = Code("snapshotInvalid")
        /// A write that would grow the store while a NOSPACE alarm is raised (etcd's quota).
        public static let noSpace = Code("noSpace")
        /// A command or record uses a format version this build does not understand.
        public static let unsupportedVersion = Code("unsupportedVersion")
    }
}

extension StorageError {
    static func corruption(_ message: String) -> StorageError { StorageError(.corruption, message) }
    static func invalid(_ message: String) -> StorageError { StorageError(.invalidArgument, message) }
}
