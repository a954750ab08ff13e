import Dispatch
import Synchronization

/// Checks histories for linearizability against a model.
public enum Checker {
    /// The default of `check`'s `memoryLimitBytes`: 1 GiB for the search tables of all partitions.
    public static let memoryLimitBytesDefault = 1 << 30

    /// Checks `history` against `model`, partitions in parallel, stopping with `unknown` after
    /// `timeLimit` (nil: no limit) or when the search tables of the partitions being checked would
    /// together hold more than `memoryLimitBytes` (the result's `unknownReason` says which).
    /// Throws if the model cannot interpret an operation.
    ///
    /// The memory limit covers the search's cache of configurations, its memo of model transitions
    /// and its interned states, which are what grows on a hard history; it is an estimate from their
    /// sizes (a state's own heap storage is counted by its inline size only), not the process's RSS.
    public static func check<M: Model>(
        _ history: History, model: M, timeLimit: Duration? = nil,
        memoryLimitBytes: Int = memoryLimitBytesDefault
    ) throws(HistoryError) -> CheckResult {
        precondition(memoryLimitBytes > 0, "the memory limit must be positive")
        let clock = ContinuousClock()
        let start = clock.now
        for operation in history.operations where operation.outcome != .fail {
            if let reason = model.rejection(of: operation) {
                throw HistoryError(
                    code: .badModelInput, message: reason, line: history.events[operation.invokeEvent].line)
            }
        }
        let checked = history.operations.filter { $0.outcome != .fail }
        let partitions = model.partition(checked)
        let shared = SharedSearchState(count: partitions.count)
        let deadline = timeLimit.map { start + $0 }
        let eventCount = history.events.count
        let budget = MemoryBudget(limitBytes: memoryLimitBytes)
        DispatchQueue.concurrentPerform(iterations: partitions.count) { index in
            var search = LinearizabilitySearch(
                model: model, operations: partitions[index].operations, eventCount: eventCount, budget: budget)
            let shouldStop = { () -> UnknownReason? in
                if shared.stop.load(ordering: .relaxed) {
                    return UnknownReason(
                        code: .otherPartitionInvalid, message: "stopped: another partition is not linearizable")
                }
                if let deadline, clock.now >= deadline {
                    return UnknownReason(
                        code: .timeLimit, message: "the time limit of \(timeLimit!) passed before the search decided")
                }
                return nil
            }
            var result = search.run(key: partitions[index].key, shouldStop: shouldStop)
            if result.verdict == .invalid {
                shared.stop.store(true, ordering: .relaxed)
                // The same deterministic search again, now recording what the report needs. It is not
                // charged to the budget: the first run just fitted, and freed its tables, and the other
                // partitions are stopping.
                var explaining = LinearizabilitySearch(
                    model: model, operations: partitions[index].operations, eventCount: eventCount, budget: nil)
                let steps = result.searchSteps
                result = explaining.run(key: partitions[index].key, explaining: true) { nil }
                precondition(result.verdict == .invalid, "the search is deterministic")
                precondition(result.searchSteps == steps, "the explaining run retraces the same steps")
            }
            shared.results.withLock { $0[index] = result }
        }
        let results = shared.results.withLock { $0.map { $0! } }
        let verdict: Verdict =
            results.contains { $0.verdict == .invalid }
            ? .invalid : results.contains { $0.verdict == .unknown } ? .unknown : .valid
        return CheckResult(
            verdict: verdict, model: model.name, initialState: model.describe(state: model.initialState),
            partitions: results, elapsed: clock.now - start,
            operationDescriptions: history.operations.map { model.describe(operation: $0) })
    }
}

/// What the parallel partition searches share: a stop flag (set when one finds a violation, since the
/// verdict is then known) and the result slots.
private final class SharedSearchState: Sendable {
    let stop = Atomic<Bool>(false)
    let results: Mutex<[PartitionResult?]>

    init(count: Int) {
        results = Mutex(Array(repeating: nil, count: count))
    }
}
