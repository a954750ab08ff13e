/// The time axis and fault intervals shared by the timeline and the plots.
struct ReportGeometry {
    /// A span during which the nemesis was injecting a fault, in event indexes.
    struct Interval {
        var startEvent: Int
        var endEvent: Int
        var label: String
    }

    /// Nemesis functions that end a fault; any other nemesis event starts one.
    static let healingFunctions: Set<String> = ["stop", "recover", "heal", "resume", "stop-partition", "start-all"]

    let history: History
    /// True when every event records `:time`, so plots can use seconds; otherwise event positions.
    let hasTime: Bool
    let intervals: [Interval]

    init(history: History) {
        self.history = history
        hasTime = !history.events.isEmpty && history.events.allSatisfy { $0.time != nil }
        var intervals: [Interval] = []
        var openStart: Int?
        var openLabel = ""
        for eventIndex in history.nemesisEvents {
            let event = history.events[eventIndex]
            if Self.healingFunctions.contains(event.f) {
                if let start = openStart {
                    intervals.append(Interval(startEvent: start, endEvent: eventIndex, label: openLabel))
                    openStart = nil
                }
            } else if openStart == nil {
                openStart = eventIndex
                openLabel = event.f + (event.value.isNil ? "" : " " + EDNWriter.write(event.value))
            }
        }
        if let start = openStart {
            intervals.append(Interval(startEvent: start, endEvent: history.events.count, label: openLabel))
        }
        self.intervals = intervals
    }

    /// The plot x coordinate of an event: seconds since the first event, or the event index.
    func plotTime(ofEvent index: Int) -> Double {
        guard hasTime else { return Double(index) }
        let clamped = min(max(index, 0), history.events.count - 1)
        let first = history.events[0].time!
        return Double(history.events[clamped].time! - first) / 1e9
    }

    /// The plot time at which the history ends.
    var plotEnd: Double {
        hasTime ? plotTime(ofEvent: history.events.count - 1) : Double(history.events.count)
    }

    /// Latency of an answered operation: milliseconds, or events between invocation and completion.
    func latency(of operation: HistoryOperation) -> Double? {
        guard let complete = operation.completeEvent else { return nil }
        if hasTime {
            return Double(history.events[complete].time! - history.events[operation.invokeEvent].time!) / 1e6
        }
        return Double(complete - operation.invokeEvent)
    }
}
