import Foundation

/// Wing and Gong's search with Lowe's just-in-time linearization, over one partition.
///
/// The history is a doubly-linked list of call and return entries in time order. Walking it, a call
/// is tried as the next linearized operation (lifting its call and return out of the list); reaching
/// a return means its operation should already have been linearized, so the search backtracks.
/// A cache of (linearized set, state) prunes configurations already explored. Operations with an
/// unknown result have their return at the end of the history and may also take no effect.
struct LinearizabilitySearch<M: Model> {
    /// How many search steps pass between looks at the clock and the stop flag.
    static var clockCheckIntervalSteps: Int { 1024 }
    /// How many distinct states the invalid report lists at most.
    static var possibleStatesMax: Int { 16 }

    private struct Frame {
        var entry: Int
        var stateBefore: M.State
        var alternative: Int
    }

    private struct CacheKey: Hashable {
        var linearized: BitsetSnapshot
        var state: M.State
    }

    let model: M
    let operations: [HistoryOperation]
    let eventCount: Int

    // Entry arrays: entries 0..<2n in time order, `head` is the sentinel before the first.
    private var isCall: [Bool] = []
    private var operationOf: [Int] = []
    private var match: [Int] = []
    private var next: [Int] = []
    private var prev: [Int] = []
    private var head = 0

    init(model: M, operations: [HistoryOperation], eventCount: Int) {
        self.model = model
        self.operations = operations
        self.eventCount = eventCount
        buildEntries()
    }

    private mutating func buildEntries() {
        // Time is the position in the history; an unknown result "returns" after everything,
        // ordered by invocation so the list stays deterministic.
        var timed: [(time: Int, isCall: Bool, operation: Int)] = []
        timed.reserveCapacity(operations.count * 2)
        for (index, operation) in operations.enumerated() {
            timed.append((operation.invokeEvent * 2 + 1, true, index))
            let returnTime = operation.outcome == .ok ? operation.completeEvent! : eventCount + operation.invokeEvent
            timed.append((returnTime * 2, false, index))
        }
        timed.sort { $0.time < $1.time }
        let count = timed.count
        head = count
        isCall = timed.map(\.isCall)
        operationOf = timed.map(\.operation)
        match = Array(repeating: -1, count: count)
        var callEntry = Array(repeating: -1, count: operations.count)
        for (entry, item) in timed.enumerated() {
            if item.isCall {
                callEntry[item.operation] = entry
            } else {
                match[callEntry[item.operation]] = entry
            }
        }
        next = Array(0..<count).map { $0 + 1 < count ? $0 + 1 : -1 } + [count > 0 ? 0 : -1]
        prev = Array(0..<count).map { $0 == 0 ? count : $0 - 1 } + [-1]
    }

    private mutating func lift(_ entry: Int) {
        let ret = match[entry]
        next[prev[entry]] = next[entry]
        prev[next[entry]] = prev[entry]
        next[prev[ret]] = next[ret]
        if next[ret] != -1 { prev[next[ret]] = prev[ret] }
    }

    private mutating func unlift(_ entry: Int) {
        let ret = match[entry]
        next[prev[ret]] = ret
        if next[ret] != -1 { prev[next[ret]] = ret }
        next[prev[entry]] = entry
        prev[next[entry]] = entry
    }

    /// The `index`-th state the operation may lead to from `state`, nil past the last.
    /// An operation with an unknown result may also leave the state unchanged (it never happened).
    private func alternative(_ index: Int, from state: M.State, _ operation: HistoryOperation) -> M.State? {
        var options: [M.State]
        switch model.step(state, operation) {
        case .illegal: options = []
        case .legal(let next):
            if index == 0 { return next }
            options = [next]
        case .oneOf(let many): options = many
        }
        if operation.output == nil && !options.contains(state) { options.append(state) }
        return index < options.count ? options[index] : nil
    }

    /// Runs the search; `shouldStop` is polled so a time limit or another partition's failure ends it.
    ///
    /// With `explaining`, dead ends also record the deepest linearization and every state reached
    /// for the report. The checker asks for that only in a second run, once it knows the partition is
    /// invalid, so valid histories never pay for it; without it an invalid result has no details.
    mutating func run(key: Value?, explaining: Bool = false, shouldStop: () -> Bool) -> PartitionResult {
        let ids = operations.map(\.id)
        var state = model.initialState
        var linearized = Bitset(count: operations.count)
        var cache: Set<CacheKey> = [CacheKey(linearized: linearized.snapshot(), state: state)]
        var stack: [Frame] = []
        stack.reserveCapacity(operations.count)
        var bestDepth = -1
        var bestFrames: [Frame] = []
        var bestFinalState = state
        var bestFailing = -1
        var deadEndStates = Array(repeating: [M.State](), count: explaining ? operations.count : 0)
        // Frames below this depth have not been popped since `bestFrames` was taken, so a new
        // snapshot only copies the part above it (linear in pushes overall, not quadratic).
        var unchangedDepth = 0
        var steps = 0
        var entry = next[head]

        // Tries alternatives of the call at `entry` starting at `first`; on success lifts and descends.
        func tryCall(_ entry: Int, from first: Int) -> Bool {
            let opIndex = operationOf[entry]
            var index = first
            while let candidate = alternative(index, from: state, operations[opIndex]) {
                linearized.insert(opIndex)
                if cache.insert(CacheKey(linearized: linearized.snapshot(), state: candidate)).inserted {
                    stack.append(Frame(entry: entry, stateBefore: state, alternative: index))
                    state = candidate
                    lift(entry)
                    return true
                }
                linearized.remove(opIndex)
                index += 1
            }
            return false
        }

        while next[head] != -1 {
            steps += 1
            if steps % Self.clockCheckIntervalSteps == 0 && shouldStop() {
                return PartitionResult(
                    key: key, operationIDs: ids, verdict: .unknown, linearization: [], failingOperationID: nil,
                    possibleStates: [], searchSteps: steps)
            }
            if isCall[entry] {
                if tryCall(entry, from: 0) {
                    entry = next[head]
                } else {
                    entry = next[entry]
                }
                continue
            }
            // A return whose operation is not linearized yet: this branch is dead.
            let failing = operationOf[entry]
            if explaining {
                if stack.count > bestDepth {
                    bestDepth = stack.count
                    bestFrames.replaceSubrange(unchangedDepth..., with: stack[unchangedDepth...])
                    unchangedDepth = stack.count
                    bestFinalState = state
                    bestFailing = failing
                }
                // Every state some consistent prefix reached when this operation had to take effect.
                if deadEndStates[failing].count < Self.possibleStatesMax && !deadEndStates[failing].contains(state) {
                    deadEndStates[failing].append(state)
                }
            }
            guard let frame = stack.popLast() else {
                guard explaining else {
                    return PartitionResult(
                        key: key, operationIDs: ids, verdict: .invalid, linearization: [], failingOperationID: nil,
                        possibleStates: [], searchSteps: steps)
                }
                return PartitionResult(
                    key: key, operationIDs: ids, verdict: .invalid,
                    linearization: describe(bestFrames, finalState: bestFinalState),
                    failingOperationID: operations[bestFailing].id,
                    possibleStates: deadEndStates[bestFailing].map { model.describe(state: $0) }, searchSteps: steps)
            }
            unchangedDepth = min(unchangedDepth, stack.count)
            state = frame.stateBefore
            linearized.remove(operationOf[frame.entry])
            unlift(frame.entry)
            entry = tryCall(frame.entry, from: frame.alternative + 1) ? next[head] : next[frame.entry]
        }
        return PartitionResult(
            key: key, operationIDs: ids, verdict: .valid, linearization: describe(stack, finalState: state),
            failingOperationID: nil, possibleStates: [model.describe(state: state)], searchSteps: steps)
    }

    private func describe(_ frames: [Frame], finalState: M.State) -> [LinearizedOperation] {
        frames.indices.map { index in
            let after = index + 1 < frames.count ? frames[index + 1].stateBefore : finalState
            return LinearizedOperation(
                operationID: operations[operationOf[frames[index].entry]].id,
                stateBefore: model.describe(state: frames[index].stateBefore),
                stateAfter: model.describe(state: after))
        }
    }
}
