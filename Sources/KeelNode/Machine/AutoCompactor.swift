/// etcd 3.4's auto-compaction (`--auto-compaction-mode`, `--auto-compaction-retention`) as a pure
/// function of the time and the store's revision: the driver polls it, proposes the compaction it
/// names through the log, and reports the outcome. Only the leader compacts (etcd pauses the
/// compactor on followers); a compaction is an entry like any other, so every member drops the
/// same history.
public struct AutoCompactor: Sendable {
    /// What to keep.
    public enum Policy: Sendable, Hashable {
        /// Keep the history of the last `retention`: etcd's `periodic` mode.
        case periodic(retention: Duration)
        /// Keep the last `retention` revisions: etcd's `revision` mode.
        case revisions(retention: Int64)
    }

    /// etcd's revision-mode interval: the current revision less the retention, every 5 minutes.
    static let revisionInterval: Duration = .seconds(300)
    /// etcd samples a periodic retention ten times per period (at most every 6 minutes).
    static let samplesPerPeriod = 10
    /// etcd compacts at least once an hour however long the retention.
    static let periodicIntervalMax: Duration = .seconds(3600)

    let policy: Policy
    /// Revisions sampled once per interval, oldest first; the first is the one `retention` ago.
    /// Invariant: at most `samplesMax` of them.
    private var samples: [Int64] = []
    private var started = false
    private var nextPoll: Duration = .zero
    private var lastSuccess: Duration = .zero
    /// How long after the last success the next periodic compaction is due: the whole retention
    /// the first time, then the compaction interval (etcd's `baseInterval`).
    private var dueAfter: Duration
    /// The last revision-mode target compacted, not proposed again.
    private var lastTarget: Int64 = 0

    /// A compactor for `policy`; the retention must be positive.
    public init(policy: Policy) {
        switch policy {
        case .periodic(let retention): precondition(retention > .zero, "auto-compaction: retention must be positive")
        case .revisions(let retention): precondition(retention > 0, "auto-compaction: retention must be positive")
        }
        self.policy = policy
        if case .periodic(let retention) = policy { dueAfter = retention } else { dueAfter = .zero }
    }

    /// How often the compactor wakes: a tenth of the retention (at most 6 minutes) in periodic
    /// mode, 5 minutes in revision mode.
    var interval: Duration {
        switch policy {
        case .periodic(let retention): min(retention, Self.periodicIntervalMax) / Self.samplesPerPeriod
        case .revisions: Self.revisionInterval
        }
    }

    private var samplesMax: Int {
        guard case .periodic(let retention) = policy else { return 0 }
        return max(1, Int(retention / interval))
    }

    /// The revision to compact to now, or nil. `now` is the driver's monotonic time, `revision`
    /// the store's current one.
    public mutating func poll(now: Duration, revision: Int64, isLeader: Bool) -> Int64? {
        guard now >= nextPoll else { return nil }
        nextPoll = now + interval
        guard started else {
            started = true
            lastSuccess = now
            record(revision)
            return nil
        }
        defer { record(revision) }
        guard isLeader else { return nil }
        switch policy {
        case .periodic(let retention):
            guard now - lastSuccess >= dueAfter, let oldest = samples.first, oldest > 0 else { return nil }
            if dueAfter == retention { dueAfter = min(retention, Self.periodicIntervalMax) }
            return oldest
        case .revisions(let retention):
            let target = revision - retention
            guard target > 0, target != lastTarget else { return nil }
            return target
        }
    }

    /// The outcome of the compaction ``poll(now:revision:isLeader:)`` named: `succeeded` also when
    /// the history was already compacted past it (etcd counts that as done).
    public mutating func finished(revision: Int64, succeeded: Bool, now: Duration) {
        guard succeeded else { return }
        lastSuccess = now
        lastTarget = revision
    }

    private mutating func record(_ revision: Int64) {
        guard case .periodic = policy else { return }
        samples.append(revision)
        if samples.count > samplesMax { samples.removeFirst(samples.count - samplesMax) }
        assert(samples.count <= samplesMax)
    }
}
