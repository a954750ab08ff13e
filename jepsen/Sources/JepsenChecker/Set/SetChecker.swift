/// Checks a grow-only set history element by element, after Jepsen's `set-full` checker.
///
/// The history holds `:add` operations (value: the element) and `:read` operations (an `:ok` read
/// returns a vector, list or set of integers). Real time is the order of events: an operation precedes
/// another when its completion event comes before the other's invocation event.
///
/// An element is *known* from its add's acknowledgement, or from the completion of the first read that
/// returned it if that came sooner. A linearizable set contains it in every read that begins after that
/// point; each read that begins later and misses it is a violation. Unlike the linearizability search,
/// this takes time linear in the size of the reads, so it suits long histories with big sets.
public enum SetChecker {
    /// Checks `history`; throws if an operation is not an `:add` of an integer or a `:read` whose `:ok`
    /// value is a collection of integers, or if one element is added twice.
    public static func check(_ history: History) throws(HistoryError) -> SetCheckResult {
        let parsed = try SetHistory(history)
        var analysis = SetAnalysis(history: history, parsed: parsed)
        analysis.checkSightings()
        analysis.classifyKnownElements()
        return analysis.result()
    }
}

/// The adds and reads of a set history, decoded once.
struct SetHistory {
    /// One `:add`.
    struct Add {
        var operation: HistoryOperation
        var element: Int
    }

    /// One `:ok` read.
    struct Read {
        var operation: HistoryOperation
        /// As returned, duplicates included.
        var elements: [Int]
        var invokeEvent: Int { operation.invokeEvent }
        /// Always set: only completed reads are kept.
        var completeEvent: Int
    }

    /// Adds by element.
    var adds: [Int: Add] = [:]
    /// `:ok` reads, in invocation order (as `History.operations` lists them).
    var reads: [Read] = []
    /// Adds that completed `:ok`.
    var acknowledgedCount = 0

    init(_ history: History) throws(HistoryError) {
        for operation in history.operations {
            let line = history.events[operation.invokeEvent].line
            switch operation.f {
            case "add":
                guard let element = operation.input.intValue else {
                    throw HistoryError(
                        code: .badModelInput, message: "a set :add takes an integer, found \(operation.input)", line: line)
                }
                if let earlier = adds[element] {
                    let earlierLine = history.events[earlier.operation.invokeEvent].line
                    throw HistoryError(
                        code: .badModelInput,
                        message: "element \(element) is added twice (first at line \(earlierLine)); the set checker "
                            + "needs each element added once",
                        line: line)
                }
                adds[element] = Add(operation: operation, element: element)
                if operation.outcome == .ok { acknowledgedCount += 1 }
            case "read":
                guard operation.outcome == .ok, let output = operation.output, let completeEvent = operation.completeEvent
                else { continue }
                guard let elements = Self.integers(in: output) else {
                    throw HistoryError(
                        code: .badModelInput,
                        message: "a set :read must return a collection of integers, found \(output)", line: line)
                }
                reads.append(Read(operation: operation, elements: elements, completeEvent: completeEvent))
            default:
                throw HistoryError(
                    code: .badModelInput, message: "a set history has only :add and :read, found :\(operation.f)",
                    line: line)
            }
        }
    }

    /// The integers of a vector, list or set; nil (read nothing) is the empty set.
    private static func integers(in value: Value) -> [Int]? {
        let items: [Value]
        switch value {
        case .nil: return []
        case .vector(let list), .list(let list): items = list
        case .set(let set): items = Array(set)
        default: return nil
        }
        var out: [Int] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard let number = item.intValue else { return nil }
            out.append(number)
        }
        return out
    }
}

/// The per-element bookkeeping behind `SetChecker.check`.
struct SetAnalysis {
    let history: History
    let parsed: SetHistory
    /// For each element some read returned: indexes into `parsed.reads` of the reads returning it,
    /// in invocation order, each once.
    private var sightings: [Int: [Int]] = [:]
    /// Read invocation events in order, for binary search ("the reads that began after event e").
    private let readInvokeEvents: [Int]

    private var stable: [Int] = []
    private var lost: [SetLostElement] = []
    private var stale: [SetStaleElement] = []
    private var neverRead: [Int] = []
    private var duplicated: [SetDuplicatedElement] = []
    private var unexpected: [SetElementSighting] = []
    private var readAfterFailedAdd: [SetElementSighting] = []
    private var readBeforeAdd: [SetElementSighting] = []
    private var recovered: [SetElementSighting] = []
    private var unresolved: [Int] = []

    init(history: History, parsed: SetHistory) {
        self.history = history
        self.parsed = parsed
        readInvokeEvents = parsed.reads.map(\.invokeEvent)
        precondition(zip(readInvokeEvents, readInvokeEvents.dropFirst()).allSatisfy { $0 < $1 }, "reads in invocation order")
        for (readIndex, read) in parsed.reads.enumerated() {
            var copies: [Int: Int] = [:]
            for element in read.elements { copies[element, default: 0] += 1 }
            for (element, count) in copies {
                sightings[element, default: []].append(readIndex)
                if count > 1 {
                    duplicated.append(
                        SetDuplicatedElement(element: element, readOperationID: read.operation.id, copies: count))
                }
            }
        }
    }

    /// Elements some read returned: unexpected ones, failed adds that showed up, reads before the add,
    /// and unknown adds that turned out to have happened.
    mutating func checkSightings() {
        for (element, readIndexes) in sightings {
            let firstRead = parsed.reads[readIndexes[0]].operation.id
            guard let add = parsed.adds[element] else {
                unexpected.append(SetElementSighting(element: element, readOperationID: firstRead, addOperationID: nil))
                continue
            }
            let addID = add.operation.id
            if let early = readIndexes.first(where: { parsed.reads[$0].completeEvent < add.operation.invokeEvent }) {
                readBeforeAdd.append(
                    SetElementSighting(element: element, readOperationID: parsed.reads[early].operation.id, addOperationID: addID))
            }
            switch add.operation.outcome {
            case .ok: break
            case .fail:
                readAfterFailedAdd.append(SetElementSighting(element: element, readOperationID: firstRead, addOperationID: addID))
            case .info:
                recovered.append(SetElementSighting(element: element, readOperationID: firstRead, addOperationID: addID))
            }
        }
    }

    /// Sorts every added element into stable, lost, stale, never read or unresolved.
    mutating func classifyKnownElements() {
        for (element, add) in parsed.adds {
            let seenBy = sightings[element] ?? []
            // A failed add that a read returned is already reported; judging its staleness as well would
            // count one fault twice.
            if add.operation.outcome == .fail && !seenBy.isEmpty { continue }
            guard let known = knownEvent(of: add, seenBy: seenBy) else {
                unresolved.append(element)
                continue
            }
            let readsAfterKnown = firstRead(invokedAfter: known)..<parsed.reads.count
            if readsAfterKnown.isEmpty {
                neverRead.append(element)
                continue
            }
            let lastSeen = seenBy.max { parsed.reads[$0].completeEvent < parsed.reads[$1].completeEvent }
            // Every read that begins after the last sighting ended lacks the element (it would otherwise
            // have ended later); if one also began after the element was known, the element is gone.
            let settled = max(known, lastSeen.map { parsed.reads[$0].completeEvent } ?? known)
            let afterSettled = firstRead(invokedAfter: settled)
            if afterSettled < parsed.reads.count {
                lost.append(
                    SetLostElement(
                        element: element, addOperationID: add.operation.id, knownEvent: known,
                        lastSeenByOperationID: lastSeen.map { parsed.reads[$0].operation.id },
                        missedByOperationID: parsed.reads[afterSettled].operation.id))
                continue
            }
            let seenAfterKnown = seenBy.filter { readsAfterKnown.contains($0) }.count
            if seenAfterKnown == readsAfterKnown.count {
                stable.append(element)
                continue
            }
            guard let lastSeen else { preconditionFailure("an element no read returned is lost once a read follows it") }
            // Some read after `known` missed it but a read ending later saw it: find the latest miss.
            let seenSet = Set(seenBy)
            let missed = readsAfterKnown.reversed().first { !seenSet.contains($0) }!
            let missedRead = parsed.reads[missed]
            stale.append(
                SetStaleElement(
                    element: element, addOperationID: add.operation.id, knownEvent: known,
                    missedByOperationID: missedRead.operation.id,
                    seenAgainByOperationID: parsed.reads[lastSeen].operation.id,
                    staleEvents: missedRead.invokeEvent - known,
                    staleNanoseconds: nanoseconds(from: known, to: missedRead.invokeEvent)))
        }
    }

    /// The verdict and the sorted lists.
    func result() -> SetCheckResult {
        let invalid =
            !lost.isEmpty || !stale.isEmpty || !duplicated.isEmpty || !unexpected.isEmpty
            || !readAfterFailedAdd.isEmpty || !readBeforeAdd.isEmpty
        let verdict: Verdict = invalid ? .invalid : stable.isEmpty ? .unknown : .valid
        return SetCheckResult(
            verdict: verdict, attemptedCount: parsed.adds.count, acknowledgedCount: parsed.acknowledgedCount,
            readCount: parsed.reads.count, stable: stable.sorted(), lost: lost.sorted { $0.element < $1.element },
            stale: stale.sorted { $0.element < $1.element }, neverRead: neverRead.sorted(),
            duplicated: duplicated.sorted { ($0.element, $0.readOperationID) < ($1.element, $1.readOperationID) },
            unexpected: unexpected.sorted { $0.element < $1.element },
            readAfterFailedAdd: readAfterFailedAdd.sorted { $0.element < $1.element },
            readBeforeAdd: readBeforeAdd.sorted { $0.element < $1.element },
            recovered: recovered.sorted { $0.element < $1.element }, unresolved: unresolved.sorted())
    }

    /// The add's acknowledgement or the end of the first read returning the element, whichever is first;
    /// nil if neither happened.
    private func knownEvent(of add: SetHistory.Add, seenBy: [Int]) -> Int? {
        let acknowledged = add.operation.outcome == .ok ? add.operation.completeEvent : nil
        let firstSighting = seenBy.map { parsed.reads[$0].completeEvent }.min()
        switch (acknowledged, firstSighting) {
        case let (ack?, seen?): return min(ack, seen)
        case let (ack?, nil): return ack
        case let (nil, seen?): return seen
        case (nil, nil): return nil
        }
    }

    /// Index into `parsed.reads` of the first read invoked after `event` (`reads.count` if none).
    private func firstRead(invokedAfter event: Int) -> Int {
        var low = 0
        var high = readInvokeEvents.count
        while low < high {
            let middle = (low + high) / 2
            if readInvokeEvents[middle] > event { high = middle } else { low = middle + 1 }
        }
        return low
    }

    private func nanoseconds(from start: Int, to end: Int) -> Int? {
        guard let startTime = history.events[start].time, let endTime = history.events[end].time else { return nil }
        return endTime - startTime
    }
}
