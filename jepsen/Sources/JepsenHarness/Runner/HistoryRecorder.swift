// The history as clients and the nemesis see it, in the order events happen.
import Foundation
import JepsenChecker
import Synchronization

/// Appends events with their time since the test began; thread-safe.
public final class HistoryRecorder: Sendable {
    /// One recorded event and where it happened.
    public struct Entry: Sendable {
        /// The event as the history file will hold it.
        public var event: JepsenChecker.Operation
        /// The member the client talked to (nil for the nemesis).
        public var node: String?
        /// Wall-clock time of the event.
        public var wallTime: Date
    }

    /// At most this many events are kept; beyond it the workers stop (a run always ends bounded).
    public static let eventsMax = 2_000_000

    private let start = ContinuousClock.now
    /// Wall-clock time when the recorder was made: the history's time zero.
    public let startedAt = Date()
    private let entries = Mutex([Entry]())

    /// A recorder whose time zero is now.
    public init() {}

    /// Records an event now; returns false when the history is full.
    @discardableResult
    public func record(
        process: ProcessID, type: OperationType, f: String, value: Value, error: String? = nil, node: String? = nil
    ) -> Bool {
        return entries.withLock { entries in
            guard entries.count < Self.eventsMax else { return false }
            // Read the clock under the lock, so times never run backwards against event order.
            let elapsed = ContinuousClock.now - start
            let nanoseconds =
                Int(elapsed.components.seconds) * 1_000_000_000 + Int(elapsed.components.attoseconds / 1_000_000_000)
            let event = JepsenChecker.Operation(
                process: process, type: type, f: f, value: value, time: nanoseconds, index: entries.count,
                error: error.map(Value.string))
            entries.append(Entry(event: event, node: node, wallTime: Date()))
            return true
        }
    }

    /// Every event so far.
    public var recorded: [Entry] { entries.withLock { $0 } }

    /// Whether the history is full.
    public var isFull: Bool { entries.withLock { $0.count >= Self.eventsMax } }
}
