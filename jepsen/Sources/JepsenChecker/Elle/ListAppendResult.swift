/// A kind of anomaly the list-append checker reports, named as Elle and Adya name them.
///
/// A struct rather than an enum so that classes can be added without breaking callers' `switch`es;
/// compare against the static members.
public struct ListAppendAnomalyClass: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The name as reports print it, e.g. `G-single-realtime`.
    public let name: String
    /// Position in `all`, which orders reports from the plainest fault to the subtlest.
    private let rank: Int

    private init(_ name: String, _ rank: Int) {
        self.name = name
        self.rank = rank
    }

    /// Two reads of one key where neither is a prefix of the other: no single order of appends explains both.
    public static let incompatibleOrder = ListAppendAnomalyClass("incompatible-order", 0)
    /// A read returned an element no transaction ever appended.
    public static let garbage = ListAppendAnomalyClass("garbage", 1)
    /// A read returned the same element twice.
    public static let duplicateElements = ListAppendAnomalyClass("duplicate-elements", 2)
    /// A transaction's read disagrees with its own earlier appends or reads of the same key.
    public static let `internal` = ListAppendAnomalyClass("internal", 3)
    /// Aborted read: a committed read saw an element appended by a transaction that failed.
    public static let g1a = ListAppendAnomalyClass("G1a", 4)
    /// Intermediate read: a read ended at an element that its writer followed with another append to the key.
    public static let g1b = ListAppendAnomalyClass("G1b", 5)
    /// A committed append follows, in a key's version order, an append of a transaction that failed.
    public static let dirtyUpdate = ListAppendAnomalyClass("dirty-update", 6)
    /// A cycle of write-write dependencies only.
    public static let g0 = ListAppendAnomalyClass("G0", 7)
    /// A cycle of write-write and write-read dependencies, with at least one write-read.
    public static let g1c = ListAppendAnomalyClass("G1c", 8)
    /// A cycle with exactly one read-write anti-dependency (read skew and friends).
    public static let gSingle = ListAppendAnomalyClass("G-single", 9)
    /// A cycle with two or more read-write anti-dependencies (write skew and friends).
    public static let g2Item = ListAppendAnomalyClass("G2-item", 10)
    /// `G0` that needs a real-time edge: serializable, but not strictly.
    public static let g0Realtime = ListAppendAnomalyClass("G0-realtime", 11)
    /// `G1c` that needs a real-time edge.
    public static let g1cRealtime = ListAppendAnomalyClass("G1c-realtime", 12)
    /// `G-single` that needs a real-time edge, e.g. a stale read after a completed append.
    public static let gSingleRealtime = ListAppendAnomalyClass("G-single-realtime", 13)
    /// `G2-item` that needs a real-time edge.
    public static let g2ItemRealtime = ListAppendAnomalyClass("G2-item-realtime", 14)

    /// Every class, in report order.
    public static let all: [ListAppendAnomalyClass] = [
        .incompatibleOrder, .garbage, .duplicateElements, .internal, .g1a, .g1b, .dirtyUpdate,
        .g0, .g1c, .gSingle, .g2Item, .g0Realtime, .g1cRealtime, .gSingleRealtime, .g2ItemRealtime,
    ]

    /// The name.
    public var description: String { name }

    /// Report order.
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }
}

/// Why one transaction must come before another in any strictly serializable order.
public enum DependencyKind: String, Hashable, Sendable, CaseIterable {
    /// Write-write: `from` appended the element right before the one `to` appended, in the key's order.
    case ww
    /// Write-read: `to` read a list whose last element `from` appended.
    case wr
    /// Read-write (anti-dependency): `from` read a list ending where `to`'s append comes next.
    case rw
    /// Real time: `from` completed before `to` was invoked.
    case realtime
}

/// One edge of the dependency graph, with the key and elements that justify it.
public struct DependencyEdge: Sendable, Equatable {
    /// The earlier transaction (`HistoryOperation.id`).
    public var from: Int
    /// The later transaction.
    public var to: Int
    /// The kind of dependency.
    public var kind: DependencyKind
    /// The key, except for `realtime`.
    public var key: Int?
    /// `ww`/`wr`: the element `from` appended. `rw`: the last element `from` read (nil for an empty read).
    public var element: Int?
    /// `ww`/`rw`: the element `to` appended next in the key's order.
    public var nextElement: Int?

    /// Makes an edge.
    public init(from: Int, to: Int, kind: DependencyKind, key: Int? = nil, element: Int? = nil, nextElement: Int? = nil) {
        self.from = from
        self.to = to
        self.kind = kind
        self.key = key
        self.element = element
        self.nextElement = nextElement
    }

    /// The edge in words, e.g. `T12 appended 7 to key 3, T15 read [.. 7] of key 3: wr`.
    public var explanation: String {
        let key = self.key.map(String.init) ?? "?"
        let element = self.element.map(String.init) ?? "?"
        let next = nextElement.map(String.init) ?? "?"
        switch kind {
        case .ww:
            return "T\(from) appended \(element) to key \(key), T\(to) appended \(next) right after it: ww"
        case .wr:
            return "T\(from) appended \(element) to key \(key), T\(to) read [.. \(element)] of key \(key): wr"
        case .rw:
            let read = self.element == nil ? "read key \(key) empty" : "read [.. \(element)] of key \(key)"
            return "T\(from) \(read), T\(to) appended \(next), the next element: rw"
        case .realtime:
            return "T\(from) completed before T\(to) was invoked: realtime"
        }
    }
}

/// A transaction taking part in an anomaly.
public struct AnomalyOperation: Sendable, Equatable {
    /// `HistoryOperation.id`, the `T` number in explanations.
    public var id: Int
    /// The client process.
    public var process: Int
    /// How it ended.
    public var outcome: Outcome
    /// The transaction as completed (`:ok`) or as invoked (otherwise).
    public var value: Value
}

/// One anomaly: a direct one (a bad read) or a dependency cycle.
public struct ListAppendAnomaly: Sendable, Equatable {
    /// What kind.
    public var anomalyClass: ListAppendAnomalyClass
    /// The transactions involved; for a cycle, in cycle order (`edges[i]` leaves `operations[i]`).
    public var operations: [AnomalyOperation]
    /// For a cycle, its edges, the last one returning to `operations[0]`; empty for direct anomalies.
    public var edges: [DependencyEdge]
    /// The key a direct anomaly is about; nil for cycles.
    public var key: Int?
    /// The anomaly in words.
    public var explanation: String

    /// The ids of `operations`, in order.
    public var operationIDs: [Int] { operations.map(\.id) }
}

/// The list-append checker's answer.
public struct ListAppendResult: Sendable {
    /// Invalid if any anomaly was found; unknown if a limit stopped the check first; otherwise valid
    /// (strictly serializable as far as the recorded reads can tell).
    public var verdict: Verdict
    /// Every anomaly found, in class order (`ListAppendAnomalyClass.all`), then as found.
    public var anomalies: [ListAppendAnomaly]
    /// Why the verdict is unknown, when it is.
    public var unknownReason: String?
    /// `:txn` operations in the history, failed ones included.
    public var transactionCount: Int
    /// Edges in the dependency graph (real-time edges included).
    public var dependencyEdgeCount: Int
    /// Strongly connected components with more than one transaction: each holds at least one cycle.
    public var cyclicComponentCount: Int
    /// Wall-clock time the check took.
    public var elapsed: Duration

    /// How many anomalies of each class were found (classes with none are absent).
    public var anomalyCounts: [ListAppendAnomalyClass: Int] {
        anomalies.reduce(into: [:]) { $0[$1.anomalyClass, default: 0] += 1 }
    }

    /// The anomalies of one class.
    public func anomalies(of anomalyClass: ListAppendAnomalyClass) -> [ListAppendAnomaly] {
        anomalies.filter { $0.anomalyClass == anomalyClass }
    }

    /// How many anomalies of each class the text and JSON renderings show at most; counts stay exact.
    public static let reportedAnomaliesPerClassMax = 8
}
