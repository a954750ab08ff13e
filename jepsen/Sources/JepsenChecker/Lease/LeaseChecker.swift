/// Checks a TTL-lease history against the bound a store promises: a key attached to a lease does
/// not disappear while the lease is kept alive, and does not outlive the lease's last renewal by more
/// than the TTL plus a stated slack. It also checks that a lease's keys go together (one revision) and
/// that nothing outlives an acknowledged revoke.
///
/// The history (the `lease` workload's) holds, per lease, with the lease ID first in every value:
/// - `:grant [lease ttl]`, `:ok [lease ttl]`;
/// - `:put [lease]`: attaches the lease's keys (all of them, in one transaction);
/// - `:keepalive [lease]`, `:ok [lease ttl term]`, where TTL 0 means the store answered "lease not found"
///   and `term` is the Raft term in the answer's header (optional: `[lease ttl]`);
/// - `:revoke [lease]`;
/// - `:read [lease nil]`, `:ok [lease n]`: how many of the lease's keys a linearizable read found;
/// - `:read-all nil`, `:ok [[lease n] ...]`: every lease with keys present (the final reads).
///
/// Times are the events' `:time` (nanoseconds, one clock for the whole history). Because the judged
/// durations are measured by the store's clocks, not the harness's, the checker takes the clock faults
/// that were injected (``ClockFault``) and widens each bound by what they can do to the store's clocks.
public enum LeaseChecker {
    /// A window in which some store clocks ran at a wrong rate or were stepped forward.
    public struct ClockFault: Sendable, Equatable {
        /// Start and end, in seconds of history time.
        public var start: Double
        /// End of the window (the heal), in seconds; `.infinity` if it never healed.
        public var end: Double
        /// The most any one clock can have been stepped forward within the window, in seconds
        /// (bumps, plus the steps a rate change may add).
        public var forwardSeconds: Double
        /// Whether clocks ran at a wrong rate in the window (between ``Bound/clockRateMin`` and
        /// ``Bound/clockRateMax``); a window of bumps alone leaves every rate at 1.
        public var changesRates: Bool

        /// Creates a clock-fault window.
        public init(start: Double, end: Double, forwardSeconds: Double, changesRates: Bool = true) {
            self.start = start
            self.end = end
            self.forwardSeconds = forwardSeconds
            self.changesRates = changesRates
        }
    }

    /// The bound the store states, and the faults that loosen it.
    public struct Bound: Sendable, Equatable {
        /// kvd's `--lease-checkpoint-interval`: an idle lease's remaining TTL goes into the log after
        /// ``checkpointPeriod(ttl:)``, and each leader change may give a lease that much extra (the
        /// time the old leader counted since the last checkpoint), plus ``electionTimeoutSeconds``.
        /// Leader changes are counted from the terms in keepalive answers; a history without terms
        /// counts one.
        public var checkpointIntervalSeconds: Double = 5
        /// The least a new leader gives every lease; also allowed once without any leader change.
        public var electionTimeoutSeconds: Double = 1
        /// Room for the expiring revoke to commit and for the harness's timing, in seconds.
        public var allowanceSeconds: Double = 1
        /// A gap between acknowledged writes longer than this counts as time without a leader able to
        /// expire leases (the bound excludes such time), less this much.
        public var quietGapSeconds: Double = 0.25
        /// Clock-fault windows (none unless the clock nemesis ran).
        public var clockFaults: [ClockFault] = []
        /// The fastest a faulty clock runs, in clock seconds per real second.
        public var clockRateMax: Double = 2
        /// The slowest a faulty clock runs.
        public var clockRateMin: Double = 0.5
        /// How many keys each lease carries: a read that finds some but not all saw them split.
        public var keysPerLease = 2

        /// kvd's default bound with no clock faults.
        public init() {}

        /// How long a lease of `ttl` seconds may go idle before its remaining time is recorded: the
        /// checkpoint interval, or a twentieth of the TTL if longer, and at most half the TTL.
        public func checkpointPeriod(ttl: Double) -> Double {
            min(max(checkpointIntervalSeconds, ttl / 20), ttl / 2)
        }
    }

    /// Checks `history` against `bound`; throws if an operation is not one the lease workload records,
    /// or an event lacks its time.
    public static func check(_ history: History, bound: Bound = Bound()) throws(HistoryError) -> LeaseCheckResult {
        let parsed = try LeaseHistory(history)
        var analysis = LeaseAnalysis(history: parsed, bound: bound)
        analysis.run()
        return analysis.result()
    }
}

/// The lease operations of a history, decoded once and grouped by lease.
struct LeaseHistory {
    /// One operation with its times in seconds.
    struct Step {
        var operation: HistoryOperation
        var invoked: Double
        /// `.infinity` when it never completed.
        var completed: Double
    }

    /// One observation of a lease's keys or of the lease itself.
    struct Sighting {
        var step: Step
        /// Keys of the lease found (reads); nil for a keepalive's answer.
        var keys: Int?
        /// Whether the lease or its keys were there.
        var present: Bool
    }

    /// What happened to one lease.
    struct Lease {
        var id: Int
        var ttl: Double = 0
        var grants: [Step] = []
        var puts: [Step] = []
        /// Keepalives, with the TTL answered (0: not found) when `:ok`.
        var keepalives: [(step: Step, ttl: Int?)] = []
        var revokes: [Step] = []
        var sightings: [Sighting] = []
    }

    var leases: [Int: Lease] = [:]
    /// Completion times of acknowledged writes (a leader able to run leases existed then), sorted.
    var acknowledgedWrites: [Double] = []
    /// Terms answered by acknowledged keepalives, by completion time, sorted.
    var answeredTerms: [(time: Double, term: Int)] = []

    init(_ history: History) throws(HistoryError) {
        func seconds(_ eventIndex: Int) throws(HistoryError) -> Double {
            let event = history.events[eventIndex]
            guard let time = event.time else {
                throw HistoryError(code: .badModelInput, message: "the lease checker needs every event's :time", line: event.line)
            }
            return Double(time) / 1e9
        }
        for operation in history.operations {
            let line = history.events[operation.invokeEvent].line
            let step = Step(
                operation: operation, invoked: try seconds(operation.invokeEvent),
                completed: try operation.completeEvent.map { eventIndex throws(HistoryError) in try seconds(eventIndex) } ?? .infinity)
            if operation.f == "read-all" {
                guard operation.outcome == .ok, let output = operation.output else { continue }
                try recordReadAll(step, output: output, line: line)
                continue
            }
            guard let parts = operation.input.elements, let id = parts.first?.intValue else {
                throw HistoryError(
                    code: .badModelInput, message: "a lease :\(operation.f) takes [lease ...], found \(operation.input)", line: line)
            }
            var lease = leases[id] ?? Lease(id: id)
            switch operation.f {
            case "grant":
                guard parts.count == 2, let ttl = parts[1].intValue, ttl > 0 else {
                    throw HistoryError(code: .badModelInput, message: "a lease :grant takes [lease ttl], found \(operation.input)", line: line)
                }
                lease.ttl = Double(ttl)
                lease.grants.append(step)
                if operation.outcome == .ok { acknowledgedWrites.append(step.completed) }
            case "put":
                lease.puts.append(step)
                if operation.outcome == .ok { acknowledgedWrites.append(step.completed) }
            case "keepalive":
                var answered: Int?
                if operation.outcome == .ok {
                    guard let output = operation.output?.elements, (2...3).contains(output.count), let ttl = output[1].intValue,
                        output.count == 2 || output[2].intValue != nil
                    else {
                        throw HistoryError(
                            code: .badModelInput, message: "a lease :keepalive answers [lease ttl term], found \(operation.output ?? .nil)",
                            line: line)
                    }
                    answered = ttl
                    if output.count == 3, ttl > 0 { answeredTerms.append((step.completed, output[2].intValue!)) }
                    if ttl > 0 { acknowledgedWrites.append(step.completed) }
                    lease.sightings.append(Sighting(step: step, keys: nil, present: ttl > 0))
                }
                lease.keepalives.append((step, answered))
            case "revoke":
                lease.revokes.append(step)
                if operation.outcome == .ok { acknowledgedWrites.append(step.completed) }
            case "read":
                if operation.outcome == .ok {
                    guard let output = operation.output?.elements, output.count == 2, let keys = output[1].intValue else {
                        throw HistoryError(
                            code: .badModelInput, message: "a lease :read answers [lease keys], found \(operation.output ?? .nil)", line: line)
                    }
                    lease.sightings.append(Sighting(step: step, keys: keys, present: keys > 0))
                }
            default:
                throw HistoryError(
                    code: .badModelInput,
                    message: "a lease history has :grant, :put, :keepalive, :revoke, :read and :read-all, found :\(operation.f)",
                    line: line)
            }
            leases[id] = lease
        }
        acknowledgedWrites.sort()
        answeredTerms.sort { ($0.time, $0.term) < ($1.time, $1.term) }
    }

    /// A final read of every lease: the leases it lists were present, every other known lease absent.
    private mutating func recordReadAll(_ step: Step, output: Value, line: Int) throws(HistoryError) {
        guard let pairs = output.elements else {
            throw HistoryError(code: .badModelInput, message: "a lease :read-all answers [[lease keys] ...], found \(output)", line: line)
        }
        var found: [Int: Int] = [:]
        for pair in pairs {
            guard let items = pair.elements, items.count == 2, let id = items[0].intValue, let keys = items[1].intValue else {
                throw HistoryError(code: .badModelInput, message: "a lease :read-all answers [[lease keys] ...], found \(output)", line: line)
            }
            found[id] = keys
        }
        // Leases first seen in this read (never granted by the workload) are recorded too: the
        // checker reports them as keys without a grant.
        for id in Set(leases.keys).union(found.keys) {
            let keys = found[id] ?? 0
            leases[id, default: Lease(id: id)].sightings.append(Sighting(step: step, keys: keys, present: keys > 0))
        }
    }
}
