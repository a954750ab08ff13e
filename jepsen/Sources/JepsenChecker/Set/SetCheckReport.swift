/// Plain-text and JSON renderings of a `SetCheckResult`; lists are capped at
/// `SetCheckResult.reportedElementsMax` entries, counts are exact.
extension SetCheckResult {
    /// A few lines a person can read: the verdict, the counts, and an example of each problem.
    public var summary: String {
        var lines = [
            "\(verdict.rawValue): set of \(attemptedCount) attempted element(s) (\(acknowledgedCount) acknowledged), "
                + "\(readCount) ok read(s)",
            "  stable \(stable.count), lost \(lost.count), stale \(stale.count), never read \(neverRead.count), "
                + "duplicated \(duplicated.count), unexpected \(unexpected.count), read after failed add "
                + "\(readAfterFailedAdd.count), read before add \(readBeforeAdd.count), recovered \(recovered.count), "
                + "unresolved \(unresolved.count)",
        ]
        if let first = lost.first {
            let seen = first.lastSeenByOperationID.map { "last seen by read \($0), " } ?? "never seen, "
            lines.append(
                "  lost: \(Self.capped(lost.map(\.element))); e.g. \(first.element) known at event \(first.knownEvent) "
                    + "(add \(first.addOperationID)), \(seen)missed by read \(first.missedByOperationID) and every read after")
        }
        if let worst = worstStale {
            lines.append(
                "  stale: \(Self.capped(stale.map(\.element))); worst \(worst.element): known at event \(worst.knownEvent) "
                    + "(add \(worst.addOperationID)), missed by read \(worst.missedByOperationID) \(worst.staleEvents) "
                    + "event(s) later, seen again by read \(worst.seenAgainByOperationID)")
        }
        if let first = duplicated.first {
            lines.append(
                "  duplicated: \(Self.capped(duplicated.map(\.element))); e.g. read \(first.readOperationID) "
                    + "returned \(first.element) \(first.copies) times")
        }
        if let first = unexpected.first {
            lines.append(
                "  unexpected: \(Self.capped(unexpected.map(\.element))); e.g. read \(first.readOperationID) "
                    + "returned \(first.element), which nothing added")
        }
        if let first = readAfterFailedAdd.first {
            lines.append(
                "  read after failed add: \(Self.capped(readAfterFailedAdd.map(\.element))); e.g. read "
                    + "\(first.readOperationID) returned \(first.element), whose add \(first.addOperationID!) failed")
        }
        if let first = readBeforeAdd.first {
            lines.append(
                "  read before add: \(Self.capped(readBeforeAdd.map(\.element))); e.g. read \(first.readOperationID) "
                    + "returned \(first.element) before add \(first.addOperationID!) was invoked")
        }
        if !neverRead.isEmpty { lines.append("  never read: \(Self.capped(neverRead))") }
        return lines.joined(separator: "\n")
    }

    /// The result as one JSON object.
    public var json: String {
        var out = "{\"checker\":\"set\",\"verdict\":\"\(verdict.rawValue)\",\"valid\":"
        out += verdict == .valid ? "true" : verdict == .invalid ? "false" : "null"
        out += ",\"attempted_count\":\(attemptedCount),\"acknowledged_count\":\(acknowledgedCount)"
        out += ",\"read_count\":\(readCount)"
        Self.appendList("stable", stable.map { "\($0)" }, to: &out)
        Self.appendList(
            "lost",
            lost.map {
                "{\"element\":\($0.element),\"add\":\($0.addOperationID),\"known_event\":\($0.knownEvent),"
                    + "\"last_seen_by\":\($0.lastSeenByOperationID.map(String.init) ?? "null"),"
                    + "\"missed_by\":\($0.missedByOperationID)}"
            }, to: &out)
        Self.appendList(
            "stale",
            stale.map {
                "{\"element\":\($0.element),\"add\":\($0.addOperationID),\"known_event\":\($0.knownEvent),"
                    + "\"missed_by\":\($0.missedByOperationID),\"seen_again_by\":\($0.seenAgainByOperationID),"
                    + "\"stale_events\":\($0.staleEvents),"
                    + "\"stale_ns\":\($0.staleNanoseconds.map(String.init) ?? "null")}"
            }, to: &out)
        if let worst = worstStale {
            out += ",\"worst_stale\":{\"element\":\(worst.element),\"stale_events\":\(worst.staleEvents)}"
        }
        Self.appendList("never_read", neverRead.map { "\($0)" }, to: &out)
        Self.appendList(
            "duplicated",
            duplicated.map { "{\"element\":\($0.element),\"read\":\($0.readOperationID),\"copies\":\($0.copies)}" },
            to: &out)
        Self.appendList("unexpected", unexpected.map(Self.json), to: &out)
        Self.appendList("read_after_failed_add", readAfterFailedAdd.map(Self.json), to: &out)
        Self.appendList("read_before_add", readBeforeAdd.map(Self.json), to: &out)
        Self.appendList("recovered", recovered.map(Self.json), to: &out)
        Self.appendList("unresolved", unresolved.map { "\($0)" }, to: &out)
        out += "}"
        return out
    }

    /// Appends `"name_count": n, "name": [first items]`.
    private static func appendList(_ name: String, _ items: [String], to out: inout String) {
        out += ",\"\(name)_count\":\(items.count),\"\(name)\":["
        out += items.prefix(reportedElementsMax).joined(separator: ",")
        out += "]"
    }

    private static func json(_ sighting: SetElementSighting) -> String {
        "{\"element\":\(sighting.element),\"read\":\(sighting.readOperationID),"
            + "\"add\":\(sighting.addOperationID.map(String.init) ?? "null")}"
    }

    /// `[1, 2, 3]`, or `[1, 2, ... (+5 more)]` past the cap.
    private static func capped(_ elements: [Int]) -> String {
        let shown = elements.prefix(reportedElementsMax).map(String.init).joined(separator: ", ")
        let rest = elements.count - min(elements.count, reportedElementsMax)
        return rest > 0 ? "[\(shown), ... (+\(rest) more)]" : "[\(shown)]"
    }
}
