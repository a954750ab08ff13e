/// The time a check may take, polled cheaply from inner loops.
struct CheckBudget {
    private let clock = ContinuousClock()
    private let deadline: ContinuousClock.Instant?
    private var steps = 0

    /// Steps between two readings of the clock: often enough to stop within milliseconds of the deadline,
    /// rarely enough that reading the clock costs nothing measurable.
    static let clockPollIntervalSteps = 1024

    /// A budget ending `timeLimit` from now; nil for no limit.
    init(timeLimit: Duration?) {
        let now = clock.now
        deadline = timeLimit.map { now + $0 }
    }

    /// Counts one step; true once the deadline has passed (checked every `clockPollIntervalSteps` steps).
    mutating func isExhausted() -> Bool {
        guard let deadline else { return false }
        steps += 1
        guard steps % Self.clockPollIntervalSteps == 0 else { return false }
        return clock.now >= deadline
    }
}

/// A limit stopped the check before it could decide; the verdict is then unknown unless an anomaly
/// was already found.
struct CheckLimitReached: Error {
    /// What ran out, in words.
    var reason: String
}
