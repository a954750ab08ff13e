import Foundation

/// What went wrong with one lease.
public struct LeaseViolation: Sendable, Equatable {
    /// The kinds of broken promise.
    public enum Kind: String, Sendable {
        /// Gone while kept alive: found missing before the TTL had run out since an acknowledged renewal.
        case early = "vanished-while-kept-alive"
        /// Still there later than the stated bound after its last renewal.
        case late = "outlived-its-lease"
        /// Still there after an acknowledged revoke.
        case outlivedRevoke = "outlived-its-revoke"
        /// Some of a lease's keys without the others.
        case split = "keys-split"
        /// Keys of a lease that was never granted.
        case neverGranted = "never-granted"
    }

    /// Which promise.
    public var kind: Kind
    /// The lease ID.
    public var lease: Int
    /// The operation that saw it (`HistoryOperation.id`).
    public var operationID: Int
    /// The renewal or revoke it contradicts, when there is one.
    public var causeOperationID: Int?
    /// The figures, in words.
    public var detail: String
}

/// What the lease checker found.
public struct LeaseCheckResult: Sendable, Equatable {
    /// Invalid if any violation; unknown if no expiry or absence could be judged; otherwise valid.
    public var verdict: Verdict
    /// Leases the history mentions.
    public var leaseCount: Int
    /// Leases whose grant was acknowledged.
    public var grantedCount: Int
    /// Leases that were let expire (not revoked) and seen gone.
    public var expiriesSeen: Int
    /// Absences judged against an acknowledged renewal.
    public var checkedAbsences: Int
    /// Sightings judged against the late bound.
    public var checkedPresences: Int
    /// Median of (first read that found an expired lease gone − last possible renewal − TTL), seconds.
    public var expiryDelayMedian: Double?
    /// Largest such delay, seconds.
    public var expiryDelayMax: Double?
    /// The smallest margin by which an absence came after the lease was due, in store-clock seconds.
    public var closestEarlyMargin: Double?
    /// Every broken promise.
    public var violations: [LeaseViolation]

    /// Violations listed in full at most.
    public static let reportedViolationsMax = 20

    /// A few lines for a terminal.
    public var summary: String {
        func seconds(_ value: Double?) -> String { value.map { String(format: "%.3f s", $0) } ?? "-" }
        var lines = [
            "lease: \(verdict.rawValue)",
            "leases: \(leaseCount) (\(grantedCount) granted), \(expiriesSeen) seen to expire",
            "checked: \(checkedAbsences) absences against a renewal, \(checkedPresences) sightings against the bound",
            "expiry after TTL: median \(seconds(expiryDelayMedian)), max \(seconds(expiryDelayMax)); "
                + "closest early margin \(seconds(closestEarlyMargin))",
        ]
        if !violations.isEmpty {
            lines.append("violations: \(violations.count)")
            for violation in violations.prefix(Self.reportedViolationsMax) {
                lines.append("  \(violation.kind.rawValue) lease \(violation.lease) (operation \(violation.operationID)): \(violation.detail)")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The result as a JSON object.
    public var json: String {
        func number(_ value: Double?) -> String { value.map { String(format: "%.6f", $0) } ?? "null" }
        func text(_ value: String) -> String {
            let data = (try? JSONSerialization.data(withJSONObject: [value], options: [])) ?? Data("[\"\"]".utf8)
            return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
        }
        let listed = violations.prefix(Self.reportedViolationsMax).map { violation in
            "{\"kind\": \(text(violation.kind.rawValue)), \"lease\": \(violation.lease), \"operation\": \(violation.operationID), "
                + "\"cause\": \(violation.causeOperationID.map(String.init) ?? "null"), \"detail\": \(text(violation.detail))}"
        }
        return "{\"verdict\": \"\(verdict.rawValue)\", \"leases\": \(leaseCount), \"granted\": \(grantedCount), "
            + "\"expiries_seen\": \(expiriesSeen), \"checked_absences\": \(checkedAbsences), \"checked_presences\": \(checkedPresences), "
            + "\"expiry_delay_median_seconds\": \(number(expiryDelayMedian)), \"expiry_delay_max_seconds\": \(number(expiryDelayMax)), "
            + "\"closest_early_margin_seconds\": \(number(closestEarlyMargin)), \"violation_count\": \(violations.count), "
            + "\"violations\": [\(listed.joined(separator: ", "))]}"
    }
}
