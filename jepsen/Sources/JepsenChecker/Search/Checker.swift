import Dispatch
import Synchronization

/// Checks histories for linearizability against a model.
public enum Checker {
    /// Checks `history` against `model`, partitions in parallel, stopping with `unknown` after
    /// `timeLimit` (nil: no limit). Throws if the model cannot interpret an operation.
    public static func check<M: Model>(
        _ history: History, model: M, timeLimit: Duration? = nil
    ) throws(HistoryError) -> CheckResult {
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
        DispatchQueue.concurrentPerform(iterations: partitions.count) { index in
            var search = LinearizabilitySearch(
                model: model, operations: partitions[index].operations, eventCount: eventCount)
            let shouldStop = {
                if shared.stop.load(ordering: .relaxed) { return true }
                if let deadline, clock.now >= deadline { return true }
                return false
            }
            var result = search.run(key: partitions[index].key, shouldStop: shouldStop)
            if result.verdict == .invalid {
                shared.stop.store(true, ordering: .relaxed)
                // The same deterministic search again, now recording what the report needs.
                var explaining = LinearizabilitySearch(
                    model: model, operations: partitions[index].operations, eventCount: eventCount)
                let steps = result.searchSteps
                result = explaining.run(key: partitions[index].key, explaining: true) { false }
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
