import Foundation

/// Checks a `lock` history: the writes that fencing let through came from the lock's real owner, in
/// increasing token order, and the lock was only ever granted to a holder that owned it.
///
/// A lock `name` is owned by the key under `name/` with the lowest create revision (etcd's
/// `concurrency.Mutex`, which kvd's and etcd's Lock services follow); that create revision is the
/// holder's *token*. A fenced write is a Txn that compares `create_revision(holdKey) == token`, so it
/// applies only while the hold key exists. Judged against the store's whole change history (read at
/// the end from revision 1), which shows exactly which keys existed when each write applied:
/// - *write-without-hold*: a fenced write applied when no key with its token existed;
/// - *write-by-non-owner*: it applied while its key existed but an older key owned the lock (the
///   lock had been granted while held);
/// - *token-regressed*: in the order writes applied, a token lower than one already used;
/// - *granted-without-hold*: Lock answered, but at the revision of its answer the returned key did
///   not exist or did not own the lock (a grant to a holder whose lease expired while it waited: the
///   bug etcd-io/etcd#11456 describes);
/// - *lost-fenced-write*, *refused-write-applied*, *unexpected-write*: a write's acknowledgement and
///   the history disagree.
/// Grants whose holds overlap in real time are counted, not judged: a holder that stops renewing its
/// lease loses the lock without knowing it, and fencing is what keeps that safe.
///
/// The history (the `lock` workload's), with client `c`:
/// - `:acquire [c lease]`, `:ok [c lease hold-key token revision]` (token nil when the hold key was
///   already gone when read back; revision: the Lock answer's header revision);
/// - `:write [c token fence-key]`, `:ok [c token revision applied]` (applied: the Txn's compare held);
///   the fence key is unique per write and its value is the token as text;
/// - `:release [c hold-key]`; `:grant [c ttl]`, `:ok [c lease]`; `:stop-renewing [c lease milliseconds]`;
/// - once, at the end: `:history [prefix]`, `:ok [head [event ...]]` (``KVEvent``s of every key).
public enum LockChecker {
    /// Where hold keys and fence keys live.
    public struct Layout: Sendable, Equatable {
        /// The hold keys' prefix: the lock's name and `/`.
        public var holdPrefix = "jl/"
        /// The fence keys' prefix.
        public var fencePrefix = "jf/"

        /// The `lock` workload's layout.
        public init() {}
    }

    /// Checks `history`; throws if an operation does not have the shape described above.
    public static func check(_ history: History, layout: Layout = Layout()) throws(HistoryError) -> LockCheckResult {
        let parsed = try LockHistory(history)
        var result = LockCheckResult()
        result.clients = Set(parsed.acquires.map(\.client)).count
        result.grants = parsed.acquires.filter { $0.operation.outcome == .ok }.count
        result.grantsGoneAtOnce = parsed.acquires.filter { $0.operation.outcome == .ok && $0.token == nil }.count
        result.acquiresFailed = parsed.acquires.filter { $0.operation.outcome == .fail }.count
        result.acquiresUnknown = parsed.acquires.filter { $0.operation.outcome == .info }.count
        result.acquiresRefusedAsExpired = parsed.refusedAsExpired
        result.writesAccepted = parsed.writes.filter { $0.operation.outcome == .ok && $0.applied == true }.count
        result.writesRefused = parsed.writes.filter { $0.operation.outcome == .ok && $0.applied == false }.count
        result.writesUnknown = parsed.writes.filter { $0.operation.outcome == .info }.count
        result.renewalStops = parsed.renewalStops
        result.overlappingGrants = overlapping(parsed.holds)
        guard let log = parsed.log else {
            result.verdict = .unknown
            result.unknownReason = "no :history was read at the end"
            return result
        }
        result.historyEvents = log.events.count
        let consistent = KVEventLog(events: log.events, head: log.head, ownsStore: true)
        func add(_ kind: LockViolation.Kind, _ operationID: Int, _ detail: String) {
            result.violations.append(LockViolation(kind: kind, operationID: operationID, detail: detail))
        }
        for problem in consistent.inconsistencies.prefix(LockCheckResult.reportedViolationsMax) {
            add(.historyInconsistent, log.operationID, problem)
        }

        var writesByKey: [String: LockHistory.Write] = [:]
        for write in parsed.writes { writesByKey[write.fenceKey] = write }
        // Grants to judge, by the revision their answer was read at.
        let grants = parsed.acquires.filter { $0.operation.outcome == .ok && $0.revision != nil }.sorted { $0.revision! < $1.revision! }
        var nextGrant = 0
        // Live hold keys in create-revision order (new keys always get the newest revision, so
        // appending keeps the order); the owner is the first one still live.
        var holds: [(key: String, createRevision: Int)] = []
        var live: [String: Int] = [:]
        var ownerIndex = 0
        func owner() -> (key: String, createRevision: Int)? {
            while ownerIndex < holds.count, live[holds[ownerIndex].key] != holds[ownerIndex].createRevision { ownerIndex += 1 }
            return ownerIndex < holds.count ? holds[ownerIndex] : nil
        }
        func judgeGrants(upTo revision: Int) {
            while nextGrant < grants.count, grants[nextGrant].revision! <= revision {
                let grant = grants[nextGrant]
                nextGrant += 1
                let current = owner()
                if live[grant.holdKey] == nil {
                    add(.grantedWithoutHold, grant.operation.id, "Lock answered \(grant.holdKey) at revision \(grant.revision!), when that key did not exist")
                } else if current?.key != grant.holdKey {
                    add(
                        .grantedWithoutHold, grant.operation.id,
                        "Lock answered \(grant.holdKey) at revision \(grant.revision!), when \(current.map { "\($0.key) (created at \($0.createRevision))" } ?? "nobody") owned the lock")
                }
            }
        }
        var appliedTokens: [Int] = []
        var highestToken = 0
        var index = 0
        let events = consistent.events
        while index < events.count {
            let revision = events[index].revision
            // Grants read at a revision before this one saw the state as it is now.
            judgeGrants(upTo: revision - 1)
            var end = index
            while end < events.count, events[end].revision == revision { end += 1 }
            // A fenced write's compare saw the state before its own revision: judge first, then apply.
            for event in events[index..<end] where event.kind == .put && event.key.hasPrefix(layout.fencePrefix) {
                result.fencedWritesInHistory += 1
                guard let write = writesByKey[event.key], write.operation.outcome != .fail else {
                    add(.unexpectedWrite, log.operationID, "\(event) in the history was written by no fenced write of the run that may have applied")
                    continue
                }
                guard let token = Int(event.value ?? "") else {
                    add(.unexpectedWrite, write.operation.id, "\(event) does not hold a token")
                    continue
                }
                if token != write.token { add(.unexpectedWrite, write.operation.id, "\(event) holds token \(token), the write sent \(write.token)") }
                let holder = live.first { $0.value == token }
                if holder == nil {
                    add(.writeWithoutHold, write.operation.id, "\(event) applied with token \(token), when no hold key with that create revision existed")
                } else if let current = owner(), current.createRevision != token {
                    add(
                        .writeByNonOwner, write.operation.id,
                        "\(event) applied with token \(token), while \(current.key) (token \(current.createRevision)) owned the lock")
                }
                if token < highestToken {
                    add(.tokenRegressed, write.operation.id, "\(event) applied with token \(token) after token \(highestToken) had been used")
                }
                highestToken = max(highestToken, token)
                if appliedTokens.last != token { appliedTokens.append(token) }
                if write.operation.outcome == .ok {
                    if write.applied == false {
                        add(.refusedWriteApplied, write.operation.id, "the write was answered as refused, but \(event) is in the history")
                    } else if write.revision != revision {
                        add(.lostFencedWrite, write.operation.id, "acknowledged at revision \(write.revision ?? 0), but the history has it at \(revision)")
                    }
                }
            }
            for event in events[index..<end] where event.key.hasPrefix(layout.holdPrefix) {
                switch event.kind {
                case .put:
                    if live[event.key] == nil {
                        live[event.key] = event.createRevision
                        holds.append((event.key, event.createRevision))
                    }
                case .delete:
                    live.removeValue(forKey: event.key)
                }
            }
            index = end
        }
        judgeGrants(upTo: Int.max)
        let inHistory = Set(events.filter { $0.kind == .put && $0.key.hasPrefix(layout.fencePrefix) }.map(\.key))
        for write in parsed.writes where write.operation.outcome == .ok && write.applied == true && !inHistory.contains(write.fenceKey) {
            add(.lostFencedWrite, write.operation.id, "acknowledged as applied at revision \(write.revision ?? 0), but \(write.fenceKey) is not in the history")
        }
        result.tokensUsed = appliedTokens.count
        if !result.violations.isEmpty {
            result.verdict = .invalid
        } else if result.fencedWritesInHistory == 0 {
            result.verdict = .unknown
            result.unknownReason = "no fenced write applied, so fencing was never exercised"
        } else {
            result.verdict = .valid
        }
        return result
    }

    /// How many holds overlap another in real time (from the grant's answer to the release's
    /// invocation).
    static func overlapping(_ holds: [(start: Double, end: Double)]) -> Int {
        let sorted = holds.sorted { $0.start < $1.start }
        var count = 0
        var latestEnd = -Double.infinity
        var previousCounted = false
        for hold in sorted {
            if hold.start < latestEnd {
                count += previousCounted ? 1 : 2
                previousCounted = true
            } else {
                previousCounted = false
            }
            if hold.end >= latestEnd {
                latestEnd = hold.end
            }
        }
        return count
    }
}

/// The `lock` workload's operations, decoded once.
struct LockHistory {
    struct Acquire {
        var operation: HistoryOperation
        var client: Int
        var holdKey = ""
        var token: Int?
        var revision: Int?
    }

    struct Write {
        var operation: HistoryOperation
        var client: Int
        var token: Int
        var fenceKey: String
        var revision: Int?
        var applied: Bool?
    }

    struct Log {
        var events: [KVEvent]
        var head: Int
        var operationID: Int
    }

    var acquires: [Acquire] = []
    var writes: [Write] = []
    /// Real-time holds: from a grant's answer to its release's invocation (or the end).
    var holds: [(start: Double, end: Double)] = []
    var renewalStops = 0
    /// Lock calls the store refused because the caller's hold key was gone (its lease expired while
    /// it waited): what etcd's own Lock does not do (etcd-io/etcd#11456).
    var refusedAsExpired = 0
    var log: Log?

    init(_ history: History) throws(HistoryError) {
        var openHold: [Int: Double] = [:]
        for operation in history.operations {
            let line = history.events[operation.invokeEvent].line
            func bad(_ shape: String) -> HistoryError {
                HistoryError(
                    code: .badModelInput,
                    message: "a lock-history :\(operation.f) is \(shape), found \(operation.input) → \(operation.output.map(\.description) ?? "nil")",
                    line: line)
            }
            let invoked = Double(history.events[operation.invokeEvent].time ?? 0) / 1e9
            let completed = operation.completeEvent.map { Double(history.events[$0].time ?? 0) / 1e9 }
            let input = operation.input.elements ?? []
            let output = operation.outcome == .ok ? operation.output?.elements : nil
            switch operation.f {
            case "acquire":
                guard input.count == 2, let client = input[0].intValue else { throw bad("[client lease]") }
                var acquire = Acquire(operation: operation, client: client)
                if operation.outcome != .ok, let complete = operation.completeEvent,
                    case .string(let error)? = history.events[complete].error, error.contains("session is expired")
                {
                    refusedAsExpired += 1
                }
                if operation.outcome == .ok {
                    guard let output, output.count == 5, case .string(let key) = output[2], let revision = output[4].intValue else {
                        throw bad(":ok [client lease hold-key token revision]")
                    }
                    acquire.holdKey = key
                    acquire.token = output[3].intValue
                    acquire.revision = revision
                    openHold[client] = completed ?? invoked
                }
                acquires.append(acquire)
            case "write":
                guard input.count == 3, let client = input[0].intValue, let token = input[1].intValue, case .string(let key) = input[2]
                else { throw bad("[client token fence-key]") }
                var write = Write(operation: operation, client: client, token: token, fenceKey: key)
                if operation.outcome == .ok {
                    guard let output, output.count == 4, let revision = output[2].intValue, case .bool(let applied) = output[3] else {
                        throw bad(":ok [client token revision applied]")
                    }
                    write.revision = revision
                    write.applied = applied
                }
                writes.append(write)
            case "release":
                guard let client = input.first?.intValue else { throw bad("[client hold-key]") }
                if let start = openHold.removeValue(forKey: client) { holds.append((start, invoked)) }
            case "grant", "revoke":
                continue
            case "stop-renewing":
                renewalStops += 1
            case "history":
                guard operation.outcome == .ok else { continue }
                guard let output, output.count == 2, let head = output[0].intValue else { throw bad(":ok [head [event ...]]") }
                log = Log(events: try KVEvent.list(output[1], line: line, what: ":history"), head: head, operationID: operation.id)
            default:
                throw HistoryError(code: .badModelInput, message: "the lock checker does not know :\(operation.f)", line: line)
            }
        }
        let end = Double(history.events.last?.time ?? 0) / 1e9
        for start in openHold.values { holds.append((start, end)) }
    }
}

/// One broken promise of a lock history.
public struct LockViolation: Sendable, Equatable {
    /// What was broken.
    public enum Kind: String, Sendable {
        /// The final history itself is out of order, misses a revision, or contradicts a key's past.
        case historyInconsistent = "history-inconsistent"
        /// A fenced write applied while no hold key with its token existed.
        case writeWithoutHold = "write-without-hold"
        /// A fenced write applied while an older hold key owned the lock.
        case writeByNonOwner = "write-by-non-owner"
        /// A fenced write applied with a token lower than one already used.
        case tokenRegressed = "token-regressed"
        /// Lock answered a key that did not own the lock at the answer's revision.
        case grantedWithoutHold = "granted-without-hold"
        /// A write acknowledged as applied is not in the history (or not at its revision).
        case lostFencedWrite = "lost-fenced-write"
        /// A write answered as refused is in the history.
        case refusedWriteApplied = "refused-write-applied"
        /// A fence key in the history that no write (that may have applied) made.
        case unexpectedWrite = "unexpected-write"
    }

    /// What was broken.
    public var kind: Kind
    /// The operation that shows it (`HistoryOperation.id`).
    public var operationID: Int
    /// The evidence, in words.
    public var detail: String
}

/// What the lock checker found.
public struct LockCheckResult: Sendable, Equatable {
    /// Invalid on any violation; unknown without a final history or without any applied fenced write.
    public var verdict: Verdict = .unknown
    /// Why the verdict is unknown.
    public var unknownReason: String?
    /// Clients that asked for the lock.
    public var clients = 0
    /// Lock answers (grants).
    public var grants = 0
    /// Grants whose hold key was already gone when read back (the lease expired meanwhile).
    public var grantsGoneAtOnce = 0
    /// Lock calls that certainly failed, or whose outcome is unknown.
    public var acquiresFailed = 0
    /// Lock calls whose outcome is unknown.
    public var acquiresUnknown = 0
    /// Lock calls refused with "session is expired": the caller's lease ran out while it waited.
    public var acquiresRefusedAsExpired = 0
    /// Fenced writes answered as applied.
    public var writesAccepted = 0
    /// Fenced writes answered as refused by the fence (the hold was gone).
    public var writesRefused = 0
    /// Fenced writes whose outcome is unknown.
    public var writesUnknown = 0
    /// Fenced writes the final history holds (acknowledged or not).
    public var fencedWritesInHistory = 0
    /// Distinct tokens among the applied writes.
    public var tokensUsed = 0
    /// Times a client stopped renewing its lease while it wanted or held the lock.
    public var renewalStops = 0
    /// Holds that overlapped another hold in real time (information: fencing keeps them safe).
    public var overlappingGrants = 0
    /// Events in the final history.
    public var historyEvents = 0
    /// Every broken promise.
    public var violations: [LockViolation] = []

    /// Violations listed in full at most.
    public static let reportedViolationsMax = 20

    /// A few lines for a terminal.
    public var summary: String {
        var lines = [
            "lock: \(verdict.rawValue)" + (unknownReason.map { " (\($0))" } ?? ""),
            "clients: \(clients); grants: \(grants) (\(grantsGoneAtOnce) whose key was gone when read back), \(acquiresFailed) failed, \(acquiresUnknown) unknown, \(acquiresRefusedAsExpired) refused as expired; \(renewalStops) renewal stops",
            "fenced writes: \(writesAccepted) accepted, \(writesRefused) refused, \(writesUnknown) unknown; \(fencedWritesInHistory) applied in the history with \(tokensUsed) tokens",
            "holds overlapping in real time (information): \(overlappingGrants); history: \(historyEvents) events",
        ]
        if !violations.isEmpty {
            lines.append("violations: \(violations.count)")
            for violation in violations.prefix(Self.reportedViolationsMax) {
                lines.append("  \(violation.kind.rawValue) (operation \(violation.operationID)): \(violation.detail)")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The result as a JSON object.
    public var json: String {
        let listed = violations.prefix(Self.reportedViolationsMax).map { violation in
            "{\"kind\": \(jsonText(violation.kind.rawValue)), \"operation\": \(violation.operationID), \"detail\": \(jsonText(violation.detail))}"
        }
        return "{\"verdict\": \"\(verdict.rawValue)\", \"unknown_reason\": \(unknownReason.map(jsonText) ?? "null"), "
            + "\"clients\": \(clients), \"grants\": \(grants), \"grants_gone_at_once\": \(grantsGoneAtOnce), "
            + "\"acquires_failed\": \(acquiresFailed), \"acquires_unknown\": \(acquiresUnknown), \"acquires_refused_as_expired\": \(acquiresRefusedAsExpired), "
            + "\"writes_accepted\": \(writesAccepted), \"writes_refused\": \(writesRefused), \"writes_unknown\": \(writesUnknown), "
            + "\"fenced_writes_in_history\": \(fencedWritesInHistory), \"tokens_used\": \(tokensUsed), "
            + "\"renewal_stops\": \(renewalStops), \"overlapping_grants\": \(overlappingGrants), \"history_events\": \(historyEvents), "
            + "\"violation_count\": \(violations.count), \"violations\": [\(listed.joined(separator: ", "))]}"
    }
}
