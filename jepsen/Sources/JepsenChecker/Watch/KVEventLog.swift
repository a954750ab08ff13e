// The store's change history as a watch delivers it, shared by the `watch` and `lock` checkers: one
// event per changed key, in revision order, each revision's events in the order the write made them.

/// One change of one key, as etcd's Watch delivers it (`mvccpb.Event`).
///
/// In a history it is written `[revision sub-order key type value create-revision version]`, where
/// `type` is `:put` or `:delete`, `value` is nil for a delete, and a delete's create revision and
/// version are 0 (as etcd sends them).
public struct KVEvent: Hashable, Sendable, CustomStringConvertible {
    /// A put or a delete.
    public enum Kind: String, Hashable, Sendable {
        /// The key was written.
        case put
        /// The key was removed.
        case delete
    }

    /// The revision of the write (the event's `mod_revision`).
    public var revision: Int
    /// Its position among the events of the same revision, from 0.
    public var subOrder: Int
    /// The key, as text.
    public var key: String
    /// Put or delete.
    public var kind: Kind
    /// The value written (nil for a delete).
    public var value: String?
    /// The key's create revision after a put (0 for a delete).
    public var createRevision: Int
    /// The key's version after a put (0 for a delete).
    public var version: Int

    /// Creates an event.
    public init(revision: Int, subOrder: Int, key: String, kind: Kind, value: String?, createRevision: Int, version: Int) {
        self.revision = revision
        self.subOrder = subOrder
        self.key = key
        self.kind = kind
        self.value = value
        self.createRevision = createRevision
        self.version = version
    }

    /// Reads the history form; nil if `value` does not have that shape.
    public init?(_ value: Value) {
        guard let parts = value.elements, parts.count == 7, let revision = parts[0].intValue, let subOrder = parts[1].intValue,
            case .string(let key) = parts[2], let kindName = parts[3].keywordName, let kind = Kind(rawValue: kindName),
            let createRevision = parts[5].intValue, let version = parts[6].intValue
        else { return nil }
        let written: String?
        switch parts[4] {
        case .string(let text): written = text
        case .nil: written = nil
        default: return nil
        }
        self.init(
            revision: revision, subOrder: subOrder, key: key, kind: kind, value: written, createRevision: createRevision,
            version: version)
    }

    /// The history form.
    public var historyValue: Value {
        .vector([
            .int(revision), .int(subOrder), .string(key), .keyword(kind.rawValue), value.map(Value.string) ?? .nil,
            .int(createRevision), .int(version),
        ])
    }

    /// `r12.0 put k=v`, for reports.
    public var description: String {
        "r\(revision).\(subOrder) \(kind.rawValue) \(key)" + (value.map { "=\($0)" } ?? "")
    }

    /// Reads a vector of events; throws with `line` if any is malformed.
    static func list(_ value: Value, line: Int, what: String) throws(HistoryError) -> [KVEvent] {
        guard let items = value.elements else {
            throw HistoryError(code: .badModelInput, message: "\(what): expected a vector of events, found \(value)", line: line)
        }
        var events: [KVEvent] = []
        events.reserveCapacity(items.count)
        for item in items {
            guard let event = KVEvent(item) else {
                throw HistoryError(
                    code: .badModelInput,
                    message: "\(what): an event is [revision sub-order key :put|:delete value create-revision version], found \(item)",
                    line: line)
            }
            events.append(event)
        }
        return events
    }
}

/// The whole change history of the store from its first revision to `head`, read once at the end
/// of a run (a fresh watch from revision 1), with what replaying it says about each key.
public struct KVEventLog: Sendable {
    /// Every event, in delivery order.
    public let events: [KVEvent]
    /// The store's revision when the log was read: every revision up to it is in `events`.
    public let head: Int
    /// Position in `events` of each (revision, sub-order).
    private let positions: [EventPosition: Int]
    /// Position of the first event of each revision.
    private let firstOfRevision: [Int: Int]
    /// Per key, the revisions at which it changed and whether it existed afterwards, ascending.
    private let presence: [String: [(revision: Int, present: Bool)]]
    /// What is wrong with the log itself (out of order, a revision with no event, a put whose create
    /// revision or version contradicts the key's past); empty for a sane log.
    public let inconsistencies: [String]

    /// A (revision, sub-order) pair.
    struct EventPosition: Hashable {
        var revision: Int
        var subOrder: Int
    }

    /// Indexes and replays `events`. When `ownsStore` is true every revision from 2 (the first write
    /// of a fresh store) to `head` must have an event: nobody else wrote.
    public init(events: [KVEvent], head: Int, ownsStore: Bool) {
        var positions: [EventPosition: Int] = [:]
        var firstOfRevision: [Int: Int] = [:]
        var presence: [String: [(revision: Int, present: Bool)]] = [:]
        var state: [String: (createRevision: Int, version: Int)] = [:]
        var problems: [String] = []
        var previous: KVEvent?
        for (index, event) in events.enumerated() {
            if let previous {
                let expected =
                    event.revision == previous.revision
                    ? (event.subOrder == previous.subOrder + 1) : (event.revision > previous.revision && event.subOrder == 0)
                if !expected { problems.append("\(event) follows \(previous): not the next position") }
                if ownsStore, event.revision > previous.revision + 1 {
                    problems.append("no event at revisions \(previous.revision + 1)...\(event.revision - 1)")
                }
            } else if event.subOrder != 0 {
                problems.append("the first event \(event) does not start its revision")
            } else if ownsStore, event.revision != 2 {
                problems.append("the first event is at revision \(event.revision), not 2")
            }
            previous = event
            positions[EventPosition(revision: event.revision, subOrder: event.subOrder)] = index
            if firstOfRevision[event.revision] == nil { firstOfRevision[event.revision] = index }
            switch event.kind {
            case .put:
                if let current = state[event.key] {
                    if event.createRevision != current.createRevision || event.version != current.version + 1 {
                        problems.append(
                            "\(event): create revision \(event.createRevision) version \(event.version), but the key had create revision \(current.createRevision) version \(current.version)"
                        )
                    }
                } else if event.createRevision != event.revision || event.version != 1 {
                    problems.append(
                        "\(event) creates the key, but says create revision \(event.createRevision) version \(event.version)")
                }
                state[event.key] = (event.createRevision, event.version)
                presence[event.key, default: []].append((event.revision, true))
            case .delete:
                if state.removeValue(forKey: event.key) == nil { problems.append("\(event) deletes a key that does not exist") }
                presence[event.key, default: []].append((event.revision, false))
            }
        }
        if let last = events.last, last.revision > head { problems.append("\(last) is past the head revision \(head)") }
        if ownsStore, (events.last?.revision ?? 1) < head {
            problems.append("no event at revisions \((events.last?.revision ?? 1) + 1)...\(head)")
        }
        self.events = events
        self.head = head
        self.positions = positions
        self.firstOfRevision = firstOfRevision
        self.presence = presence
        self.inconsistencies = problems
    }

    /// The position of the event at (`revision`, `subOrder`), if the log has one.
    public func position(revision: Int, subOrder: Int) -> Int? {
        positions[EventPosition(revision: revision, subOrder: subOrder)]
    }

    /// The events of one revision, in order (empty if none).
    public func events(at revision: Int) -> ArraySlice<KVEvent> {
        guard let first = firstOfRevision[revision] else { return [] }
        var end = first
        while end < events.count, events[end].revision == revision { end += 1 }
        return events[first..<end]
    }

    /// The position of the first event at or after `revision` (`events.count` if none).
    public func firstPosition(atOrAfter revision: Int) -> Int {
        var low = 0
        var high = events.count
        while low < high {
            let middle = (low + high) / 2
            if events[middle].revision < revision { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Whether `key` existed once every change up to and including `revision` was applied.
    public func exists(_ key: String, at revision: Int) -> Bool {
        guard let changes = presence[key] else { return false }
        var low = 0
        var high = changes.count
        while low < high {
            let middle = (low + high) / 2
            if changes[middle].revision <= revision { low = middle + 1 } else { high = middle }
        }
        return low > 0 && changes[low - 1].present
    }
}
