/// How a client operation ended.
public enum Outcome: String, Hashable, Sendable {
    /// Took effect with a known result.
    case ok
    /// Certainly did not take effect; the checker ignores it.
    case fail
    /// Unknown (`:info`, or never answered): may take effect any time after its invocation, or never.
    case info
}

/// A client operation: an invocation paired with its completion, if any.
public struct HistoryOperation: Hashable, Sendable {
    /// Position in `History.operations`; the checker reports operations by this number.
    public var id: Int
    /// The client process.
    public var process: Int
    /// The function (`read`, `write`, `cas`, `txn`, ...).
    public var f: String
    /// The invocation's value: the argument.
    public var input: Value
    /// The completion's value when `outcome == .ok`; nil when the result is unknown.
    public var output: Value?
    /// How the operation ended.
    public var outcome: Outcome
    /// Index into `History.events` of the invocation.
    public var invokeEvent: Int
    /// Index into `History.events` of the completion; nil when never answered.
    public var completeEvent: Int?
}

/// A history whose events are paired into operations under Jepsen's semantics.
///
/// A process has at most one open operation; a completion closes the open operation of its process;
/// `:fail` drops the pair; `:info` or no completion leaves the outcome unknown.
public struct History: Sendable {
    /// The events as recorded, in order.
    public let events: [Operation]
    /// Client operations in invocation order (failed ones included, marked `.fail`).
    public let operations: [HistoryOperation]
    /// Indexes into `events` of the nemesis events.
    public let nemesisEvents: [Int]

    /// Pairs `events`; throws with the line of the first event that breaks the rules.
    public init(events: [Operation]) throws(HistoryError) {
        var operations: [HistoryOperation] = []
        var nemesisEvents: [Int] = []
        var open: [Int: Int] = [:]  // process -> operation id
        for (eventIndex, event) in events.enumerated() {
            guard case .client(let process) = event.process else {
                nemesisEvents.append(eventIndex)
                continue
            }
            if event.type == .invoke {
                if let openID = open[process] {
                    let openLine = events[operations[openID].invokeEvent].line
                    throw HistoryError(
                        code: .badPairing,
                        message: "process \(process) invokes :\(event.f) while its :\(operations[openID].f) "
                            + "invoked at line \(openLine) is still open (a process has at most one open operation)",
                        line: event.line)
                }
                open[process] = operations.count
                operations.append(
                    HistoryOperation(
                        id: operations.count, process: process, f: event.f, input: event.value, output: nil,
                        outcome: .info, invokeEvent: eventIndex, completeEvent: nil))
                continue
            }
            guard let openID = open.removeValue(forKey: process) else {
                throw HistoryError(
                    code: .badPairing,
                    message: "process \(process) completes :\(event.f) with :\(event.type.rawValue) but has no open invocation",
                    line: event.line)
            }
            guard operations[openID].f == event.f else {
                throw HistoryError(
                    code: .badPairing,
                    message: "process \(process) completes :\(event.f) but its open invocation is :\(operations[openID].f)",
                    line: event.line)
            }
            operations[openID].completeEvent = eventIndex
            switch event.type {
            case .ok:
                operations[openID].outcome = .ok
                operations[openID].output = event.value
            case .fail:
                operations[openID].outcome = .fail
            case .info, .invoke:
                operations[openID].outcome = .info
            }
        }
        self.events = events
        self.operations = operations
        self.nemesisEvents = nemesisEvents
    }

    /// Reads EDN or JSON Lines (chosen by the first non-blank character: `{"` means JSON) and pairs it.
    public init(text: String) throws(HistoryError) {
        try self.init(events: try History.parseEvents(text))
    }

    /// Parses the events of EDN or JSON Lines text without pairing them.
    public static func parseEvents(_ text: String) throws(HistoryError) -> [Operation] {
        let significant = text.utf8.lazy.filter { $0 != 0x20 && $0 != 0x0a && $0 != 0x09 && $0 != 0x0d }
        var iterator = significant.makeIterator()
        let first = iterator.next()
        let second = iterator.next()
        if first == UInt8(ascii: "{") && second == UInt8(ascii: "\"") {
            return try JSONLinesHistory.read(text)
        }
        return try EDNHistory.read(text)
    }
}
