/// A granted lease as the store records it: every replica holds the same records, so a new
/// leader knows every lease and how long each had left when a leader last checkpointed it.
public struct LeaseRecord: Hashable, Sendable {
    /// The lease's id (positive).
    public var id: Int64
    /// The time-to-live it was granted, in seconds; a renewal extends it by this much again.
    public var ttlSeconds: Int64
    /// The remaining time-to-live a leader last recorded through the log, in milliseconds; nil
    /// when it was not checkpointed since it was granted or renewed (a new leader then counts
    /// the whole TTL). Never less than what the lease really had left when recorded, so a new
    /// leader never expires a lease early.
    public var checkpointedMilliseconds: Int64?
    /// Keys attached to the lease now.
    public var keyCount: Int64

    /// Creates a record.
    public init(id: Int64, ttlSeconds: Int64, checkpointedMilliseconds: Int64? = nil, keyCount: Int64 = 0) {
        self.id = id
        self.ttlSeconds = ttlSeconds
        self.checkpointedMilliseconds = checkpointedMilliseconds
        self.keyCount = keyCount
    }

    /// What a leader taking over counts as left, in milliseconds.
    public var remainingMilliseconds: Int64 { checkpointedMilliseconds ?? ttlSeconds * 1000 }
}

/// One lease's remaining time-to-live, recorded through the log by the leader
/// (``KVCommand/leaseCheckpoint(_:)``).
public struct LeaseCheckpoint: Hashable, Sendable {
    /// The lease.
    public var id: Int64
    /// Milliseconds left (at least 1), or nil: renewed, the whole TTL is left again.
    public var remainingMilliseconds: Int64?

    /// Creates a checkpoint.
    public init(id: Int64, remainingMilliseconds: Int64?) {
        self.id = id
        self.remainingMilliseconds = remainingMilliseconds
    }
}

/// Limits every replica applies alike.
public enum LeaseLimits {
    /// etcd's largest TTL (`MaxLeaseTTL`, about 285 years).
    public static let ttlSecondsMax: Int64 = 9_000_000_000
}
