import Foundation

/// Checks a `watch` history: every watcher saw a contiguous, duplicate-free slice of the store's
/// change history, in its order, and that history holds every acknowledged write at the revision
/// its acknowledgement named.
///
/// The history (the `watch` workload's) holds:
/// - writers: `:put [[key value] ...]` (one transaction, so one revision), `:ok [revision [[key value] ...]]`;
///   `:delete [key]`, `:ok [revision deleted]` (deleted is 0 or 1). Values are unique per run.
/// - each watcher, one process for its whole life, numbered `w`: `:watch [w start]`, `:ok [w start
///   created-revision]` when a stream's watch is created (start 0 means "from now", as in etcd; a
///   resumption asks for the revision after its last event); `:events [w]`, `:ok [w [event ...]]` for
///   each response carrying events (``KVEvent``'s form); `:compacted [w]`, `:ok [w compact-revision]`
///   when the store refused a start as compacted (which ends the watcher); `:watch-end [w]`, `:ok [w
///   reason last-revision]` when the watcher stops for good (`reason` `"caught-up"` or `"timeout"`:
///   after the final heal it did not reach the head revision in time); `:stream-end [w]`, `:ok [w
///   reason]` when one stream ends and the watcher goes on (`"hop"`, a planned move to another
///   member, or `"failed: …"`), counted only.
/// - once, after the final heal: `:history [prefix]`, `:ok [head [event ...]]`, every event under the
///   prefix from revision 1 to `head`, read by a fresh watch.
///
/// Watchers may stop at any time (the run ended): a slice need not reach the end of the history.
public enum WatchChecker {
    /// Checks `history`; throws if an operation does not have the shape described above.
    /// `ownsStore`: nothing but the workload wrote, so every revision from 2 to the head has an event.
    public static func check(_ history: History, ownsStore: Bool = true) throws(HistoryError) -> WatchCheckResult {
        let parsed = try WatchHistory(history)
        var result = WatchCheckResult()
        result.acknowledgedWrites = parsed.writes.filter { $0.operation.outcome == .ok }.count
        result.unknownWrites = parsed.writes.filter { $0.operation.outcome == .info }.count
        result.watchers = parsed.watchers.count
        result.sessions = parsed.watchers.values.reduce(0) { $0 + $1.sessions.count }
        result.resumptions = parsed.watchers.values.reduce(0) { $0 + max(0, $1.sessions.count - 1) }
        result.streamFailures = parsed.watchers.values.reduce(0) { $0 + $1.failedStreams }
        result.compactedWatchers = parsed.watchers.values.filter { $0.compactRevision != nil }.count
        guard let log = parsed.log else {
            result.verdict = .unknown
            result.unknownReason = "no :history was read at the end, so there is nothing to judge the watchers against"
            return result
        }
        result.historyEvents = log.events.count
        result.head = log.head
        let consistent = KVEventLog(events: log.events, head: log.head, ownsStore: ownsStore)
        for problem in consistent.inconsistencies.prefix(WatchCheckResult.reportedViolationsMax) {
            result.violations.append(WatchViolation(kind: .historyInconsistent, watcher: nil, operationID: log.operationID, detail: problem))
        }
        checkWrites(parsed, log: consistent, historyOperation: log.operationID, into: &result)
        for watcher in parsed.watchers.keys.sorted() {
            checkWatcher(parsed.watchers[watcher]!, log: consistent, into: &result)
        }
        result.verdict = result.violations.isEmpty ? .valid : .invalid
        return result
    }

    /// Every acknowledged write in the log at its revision; nothing in the log that no write made.
    private static func checkWrites(_ parsed: WatchHistory, log: KVEventLog, historyOperation: Int, into result: inout WatchCheckResult) {
        // value -> the put that wrote it (values are unique), and the deletes by key.
        var putsByValue: [String: WatchHistory.Write] = [:]
        var deletesByKey: [String: [WatchHistory.Write]] = [:]
        for write in parsed.writes {
            switch write.kind {
            case .put(let pairs): for pair in pairs { putsByValue[pair.value] = write }
            case .delete(let key): deletesByKey[key, default: []].append(write)
            }
        }
        for write in parsed.writes where write.operation.outcome == .ok {
            guard let revision = write.revision else { continue }
            let found = log.events(at: revision)
            switch write.kind {
            case .put(let pairs):
                let expected = pairs.enumerated().map { index, pair in "\(pair.key)=\(pair.value)#\(index)" }
                let seen = found.map { "\($0.key)=\($0.value ?? "<deleted>")#\($0.subOrder)" }
                if expected != seen {
                    result.violations.append(
                        WatchViolation(
                            kind: .lostWrite, watcher: nil, operationID: write.operation.id,
                            detail: "acknowledged put of \(pairs.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")) at revision \(revision), but the history has \(found.isEmpty ? "nothing" : found.map(\.description).joined(separator: ", ")) there"))
                }
            case .delete(let key):
                if write.deleted == 1 {
                    if found.count != 1 || found.first?.kind != .delete || found.first?.key != key {
                        result.violations.append(
                            WatchViolation(
                                kind: .lostWrite, watcher: nil, operationID: write.operation.id,
                                detail: "acknowledged delete of \(key) at revision \(revision), but the history has \(found.isEmpty ? "nothing" : found.map(\.description).joined(separator: ", ")) there"))
                    }
                } else if log.exists(key, at: revision) {
                    result.violations.append(
                        WatchViolation(
                            kind: .lostWrite, watcher: nil, operationID: write.operation.id,
                            detail: "a delete of \(key) answered at revision \(revision) found nothing to delete, but the history has the key then"))
                }
            }
        }
        // The other way round: each event of the log was made by a write that may have happened.
        for event in log.events {
            switch event.kind {
            case .put:
                guard let value = event.value, let write = putsByValue[value], case .put(let pairs) = write.kind,
                    pairs.contains(where: { $0.key == event.key && $0.value == value })
                else {
                    result.violations.append(
                        WatchViolation(
                            kind: .unexpectedEvent, watcher: nil, operationID: historyOperation,
                            detail: "\(event) in the history was written by no put of the run"))
                    continue
                }
                if write.operation.outcome == .fail {
                    result.violations.append(
                        WatchViolation(
                            kind: .unexpectedEvent, watcher: nil, operationID: write.operation.id,
                            detail: "\(event) in the history comes from a put that failed"))
                } else if write.operation.outcome == .ok, write.revision != event.revision {
                    // Reported already from the write's side when the log lacks it at its revision;
                    // here it shows up elsewhere too (applied twice, or at the wrong revision).
                    result.violations.append(
                        WatchViolation(
                            kind: .unexpectedEvent, watcher: nil, operationID: write.operation.id,
                            detail: "\(event) in the history, but its put was acknowledged at revision \(write.revision ?? 0)"))
                }
            case .delete:
                let candidates = deletesByKey[event.key] ?? []
                let explained = candidates.contains { write in
                    write.operation.outcome == .info || (write.operation.outcome == .ok && write.revision == event.revision)
                }
                if !explained {
                    result.violations.append(
                        WatchViolation(
                            kind: .unexpectedEvent, watcher: nil, operationID: historyOperation,
                            detail: "\(event) in the history, but no delete of \(event.key) was acknowledged at that revision or left unknown"))
                }
            }
        }
        // Real time: a write acknowledged before another was invoked has the lower revision.
        let acknowledged = parsed.writes.filter { $0.operation.outcome == .ok && $0.revision != nil && $0.changes }
            .sorted { $0.completed < $1.completed }
        var highest: [(time: Double, revision: Int, id: Int)] = []
        for write in acknowledged {
            if let last = highest.last, last.revision >= write.revision! {
                highest.append((write.completed, last.revision, last.id))
            } else {
                highest.append((write.completed, write.revision!, write.operation.id))
            }
        }
        for write in parsed.writes where write.operation.outcome == .ok && write.changes {
            // The last acknowledgement before this write was invoked.
            var low = 0
            var high = highest.count
            while low < high {
                let middle = (low + high) / 2
                if highest[middle].time < write.invoked { low = middle + 1 } else { high = middle }
            }
            guard low > 0, let revision = write.revision else { continue }
            let before = highest[low - 1]
            if before.revision >= revision {
                result.violations.append(
                    WatchViolation(
                        kind: .realTime, watcher: nil, operationID: write.operation.id,
                        detail: "acknowledged at revision \(revision), but operation \(before.id), acknowledged before this one was invoked, has revision \(before.revision)"))
            }
        }
    }

    /// One watcher: its events, over all its streams, are the log's events from some position on,
    /// each once and in order.
    private static func checkWatcher(_ watcher: WatchHistory.Watcher, log: KVEventLog, into result: inout WatchCheckResult) {
        if let compactRevision = watcher.compactRevision {
            // The log was read from revision 1, so nothing was compacted: the answer was false.
            result.violations.append(
                WatchViolation(
                    kind: .falseCompaction, watcher: watcher.id, operationID: watcher.compactOperationID ?? 0,
                    detail: "answered compacted at revision \(compactRevision), yet the whole history was read from revision 1 at the end"))
        }
        if watcher.endReason == "timeout", watcher.lastRevision < log.head {
            result.violations.append(
                WatchViolation(
                    kind: .stalled, watcher: watcher.id, operationID: watcher.endOperationID ?? 0,
                    detail: "still at revision \(watcher.lastRevision) when the time to catch up after the final heal ran out; the head is \(log.head)"))
        }
        // Every position the watcher delivers, to tell a reordering (the missing one comes later)
        // from a gap (it never comes).
        var delivered: Set<Int> = []
        for session in watcher.sessions {
            for received in session.events {
                if let position = log.position(revision: received.event.revision, subOrder: received.event.subOrder) {
                    delivered.insert(position)
                }
            }
        }
        var expected: Int?
        var seen: Set<Int> = []
        for session in watcher.sessions {
            if session.start > 0, expected == nil { expected = log.firstPosition(atOrAfter: session.start) }
            for received in session.events {
                let event = received.event
                result.eventsChecked += 1
                func report(_ kind: WatchViolation.Kind, _ detail: String) {
                    result.violations.append(
                        WatchViolation(kind: kind, watcher: watcher.id, operationID: received.operationID, detail: detail))
                }
                if event.revision < session.start {
                    report(.beforeStart, "\(event) delivered on a stream that asked to start at revision \(session.start)")
                    return
                }
                guard let position = log.position(revision: event.revision, subOrder: event.subOrder) else {
                    report(.phantom, "\(event) is not in the history")
                    return
                }
                guard log.events[position] == event else {
                    report(.phantom, "\(event) differs from the history's \(log.events[position])")
                    return
                }
                let next = expected ?? position
                if position == next {
                    expected = position + 1
                    seen.insert(position)
                    continue
                }
                if seen.contains(position) {
                    report(.duplicate, "\(event) delivered again")
                } else if position < next || delivered.contains(next) {
                    report(.reordered, "\(event) delivered where \(log.events[next]) was due")
                } else {
                    let missing = log.events[next..<position]
                    report(
                        .gap,
                        "\(event) delivered where \(log.events[next]) was due; \(missing.count) event(s) never delivered (\(missing.prefix(3).map(\.description).joined(separator: ", "))\(missing.count > 3 ? ", …" : ""))")
                }
                return
            }
        }
    }
}

/// The `watch` workload's operations, decoded once.
struct WatchHistory {
    /// One writer's operation.
    struct Write {
        enum Kind {
            case put([(key: String, value: String)])
            case delete(String)
        }
        var operation: HistoryOperation
        var kind: Kind
        /// The revision its acknowledgement named.
        var revision: Int?
        /// For an acknowledged delete: how many keys it removed.
        var deleted: Int?
        var invoked: Double
        var completed: Double

        /// Whether it made a new revision (a delete that found nothing does not).
        var changes: Bool { if case .delete = kind { return deleted == 1 } else { return true } }
    }

    /// One event as a watcher received it.
    struct Received {
        var event: KVEvent
        var operationID: Int
    }

    /// One stream's watch, from its create on.
    struct Session {
        var start: Int
        var events: [Received] = []
    }

    /// One watcher over all its streams.
    struct Watcher {
        var id: Int
        var sessions: [Session] = []
        var compactRevision: Int?
        var compactOperationID: Int?
        var endReason: String?
        var endOperationID: Int?
        var lastRevision = 0
        /// Streams that ended by failing or stalling (not by a planned hop).
        var failedStreams = 0
    }

    /// The final read of the whole history.
    struct Log {
        var events: [KVEvent]
        var head: Int
        var operationID: Int
    }

    var writes: [Write] = []
    var watchers: [Int: Watcher] = [:]
    var log: Log?

    init(_ history: History) throws(HistoryError) {
        for operation in history.operations {
            let line = history.events[operation.invokeEvent].line
            func bad(_ shape: String) -> HistoryError {
                HistoryError(code: .badModelInput, message: "a watch-history :\(operation.f) is \(shape), found \(operation.input) → \(operation.output.map(\.description) ?? "nil")", line: line)
            }
            let invoked = Double(history.events[operation.invokeEvent].time ?? 0) / 1e9
            let completed = operation.completeEvent.map { Double(history.events[$0].time ?? 0) / 1e9 } ?? .infinity
            let output = operation.outcome == .ok ? operation.output?.elements : nil
            switch operation.f {
            case "put":
                guard let pairs = operation.input.elements?.map({ $0.elements }), !pairs.isEmpty else { throw bad("[[key value] ...]") }
                var decoded: [(key: String, value: String)] = []
                for pair in pairs {
                    guard let pair, pair.count == 2, case .string(let key) = pair[0], case .string(let value) = pair[1] else {
                        throw bad("[[key value] ...]")
                    }
                    decoded.append((key, value))
                }
                var write = Write(operation: operation, kind: .put(decoded), invoked: invoked, completed: completed)
                if operation.outcome == .ok {
                    guard let output, output.count == 2, let revision = output[0].intValue else { throw bad(":ok [revision [[key value] ...]]") }
                    write.revision = revision
                }
                writes.append(write)
            case "delete":
                guard let parts = operation.input.elements, parts.count == 1, case .string(let key) = parts[0] else { throw bad("[key]") }
                var write = Write(operation: operation, kind: .delete(key), invoked: invoked, completed: completed)
                if operation.outcome == .ok {
                    guard let output, output.count == 2, let revision = output[0].intValue, let deleted = output[1].intValue else {
                        throw bad(":ok [revision deleted]")
                    }
                    write.revision = revision
                    write.deleted = deleted
                }
                writes.append(write)
            case "watch":
                guard let parts = operation.input.elements, parts.count == 2, let id = parts[0].intValue, let start = parts[1].intValue else {
                    throw bad("[watcher start-revision]")
                }
                var watcher = watchers[id] ?? Watcher(id: id)
                if operation.outcome == .ok { watcher.sessions.append(Session(start: start)) }
                watchers[id] = watcher
            case "events":
                guard operation.outcome == .ok else { continue }
                guard let output, output.count == 2, let id = output[0].intValue else { throw bad(":ok [watcher [event ...]]") }
                let events = try KVEvent.list(output[1], line: line, what: ":events")
                var watcher = watchers[id] ?? Watcher(id: id)
                if watcher.sessions.isEmpty {
                    throw HistoryError(code: .badModelInput, message: "watcher \(id) has :events before any created :watch", line: line)
                }
                watcher.sessions[watcher.sessions.count - 1].events += events.map { Received(event: $0, operationID: operation.id) }
                if let last = events.last { watcher.lastRevision = max(watcher.lastRevision, last.revision) }
                watchers[id] = watcher
            case "compacted":
                guard operation.outcome == .ok else { continue }
                guard let output, output.count == 2, let id = output[0].intValue, let revision = output[1].intValue else {
                    throw bad(":ok [watcher compact-revision]")
                }
                watchers[id, default: Watcher(id: id)].compactRevision = revision
                watchers[id, default: Watcher(id: id)].compactOperationID = operation.id
            case "watch-end":
                guard operation.outcome == .ok else { continue }
                guard let output, output.count == 3, let id = output[0].intValue, case .string(let reason) = output[1] else {
                    throw bad(":ok [watcher reason last-revision]")
                }
                watchers[id, default: Watcher(id: id)].endReason = reason
                watchers[id, default: Watcher(id: id)].endOperationID = operation.id
            case "history":
                guard operation.outcome == .ok else { continue }
                guard let output, output.count == 2, let head = output[0].intValue else { throw bad(":ok [head [event ...]]") }
                log = Log(events: try KVEvent.list(output[1], line: line, what: ":history"), head: head, operationID: operation.id)
            case "stream-end":
                guard operation.outcome == .ok else { continue }
                guard let output, output.count == 2, let id = output[0].intValue, case .string(let reason) = output[1] else {
                    throw bad(":ok [watcher reason]")
                }
                if reason.hasPrefix("failed") { watchers[id, default: Watcher(id: id)].failedStreams += 1 }
            case "read":
                continue
            default:
                throw HistoryError(code: .badModelInput, message: "the watch checker does not know :\(operation.f)", line: line)
            }
        }
    }
}

/// One broken promise of a watch history.
public struct WatchViolation: Sendable, Equatable {
    /// What was broken.
    public enum Kind: String, Sendable {
        /// The final history itself is out of order, misses a revision, or contradicts a key's past.
        case historyInconsistent = "history-inconsistent"
        /// An acknowledged write is not in the history at the revision it was acknowledged with.
        case lostWrite = "lost-write"
        /// The history holds a change no write of the run made (or a failed one did).
        case unexpectedEvent = "unexpected-event"
        /// Revisions contradict real time: a write acknowledged before another began has the higher revision.
        case realTime = "real-time"
        /// A watcher skipped events of the history.
        case gap
        /// A watcher delivered an event twice.
        case duplicate
        /// A watcher delivered events out of the history's order.
        case reordered
        /// A watcher delivered an event that is not in the history (or differs from it).
        case phantom
        /// A stream delivered an event older than the revision it asked to start at.
        case beforeStart = "before-start"
        /// A watcher was told its start was compacted, though nothing was.
        case falseCompaction = "false-compaction"
        /// After the final heal a watcher did not reach the head revision in time.
        case stalled
    }

    /// What was broken.
    public var kind: Kind
    /// The watcher, for a watcher's violation.
    public var watcher: Int?
    /// The operation that shows it (`HistoryOperation.id`).
    public var operationID: Int
    /// The evidence, in words.
    public var detail: String
}

/// What the watch checker found.
public struct WatchCheckResult: Sendable, Equatable {
    /// Invalid on any violation; unknown when no final history was read.
    public var verdict: Verdict = .unknown
    /// Why the verdict is unknown.
    public var unknownReason: String?
    /// Writes acknowledged, and writes with an unknown outcome.
    public var acknowledgedWrites = 0
    /// Writes whose outcome is unknown.
    public var unknownWrites = 0
    /// Events in the final history, and its head revision.
    public var historyEvents = 0
    /// The head revision of the final history.
    public var head = 0
    /// Watchers, their streams, and the streams that resumed an earlier one.
    public var watchers = 0
    /// Streams (created watches) over all watchers.
    public var sessions = 0
    /// Streams that resumed after an earlier one of the same watcher ended.
    public var resumptions = 0
    /// Streams that failed or stalled (a member killed, paused or cut off); the others ended by a
    /// planned move to another member, or at the end.
    public var streamFailures = 0
    /// Watchers ended by a compacted answer.
    public var compactedWatchers = 0
    /// Watcher events compared with the history.
    public var eventsChecked = 0
    /// Every broken promise (the first per watcher).
    public var violations: [WatchViolation] = []

    /// Violations listed in full at most.
    public static let reportedViolationsMax = 20

    /// A few lines for a terminal.
    public var summary: String {
        var lines = [
            "watch: \(verdict.rawValue)" + (unknownReason.map { " (\($0))" } ?? ""),
            "writes: \(acknowledgedWrites) acknowledged, \(unknownWrites) unknown; history: \(historyEvents) events to revision \(head)",
            "watchers: \(watchers), streams \(sessions) (\(resumptions) resumptions; \(streamFailures) streams failed or stalled), \(compactedWatchers) ended compacted; \(eventsChecked) events checked",
        ]
        if !violations.isEmpty {
            lines.append("violations: \(violations.count)")
            for violation in violations.prefix(Self.reportedViolationsMax) {
                let who = violation.watcher.map { "watcher \($0) " } ?? ""
                lines.append("  \(violation.kind.rawValue) \(who)(operation \(violation.operationID)): \(violation.detail)")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The result as a JSON object.
    public var json: String {
        let listed = violations.prefix(Self.reportedViolationsMax).map { violation in
            "{\"kind\": \(jsonText(violation.kind.rawValue)), \"watcher\": \(violation.watcher.map(String.init) ?? "null"), "
                + "\"operation\": \(violation.operationID), \"detail\": \(jsonText(violation.detail))}"
        }
        return "{\"verdict\": \"\(verdict.rawValue)\", \"unknown_reason\": \(unknownReason.map(jsonText) ?? "null"), "
            + "\"acknowledged_writes\": \(acknowledgedWrites), \"unknown_writes\": \(unknownWrites), "
            + "\"history_events\": \(historyEvents), \"head\": \(head), \"watchers\": \(watchers), \"streams\": \(sessions), "
            + "\"resumptions\": \(resumptions), \"stream_failures\": \(streamFailures), \"compacted_watchers\": \(compactedWatchers), \"events_checked\": \(eventsChecked), "
            + "\"violation_count\": \(violations.count), \"violations\": [\(listed.joined(separator: ", "))]}"
    }
}

/// A JSON string literal for `value`.
func jsonText(_ value: String) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: [value], options: [])) ?? Data("[\"\"]".utf8)
    return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
}
