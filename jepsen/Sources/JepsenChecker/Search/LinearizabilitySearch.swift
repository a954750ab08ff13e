/// Wing and Gong's search with Lowe's just-in-time linearization, over one partition.
///
/// The history is a doubly-linked list of call and return entries in time order. Walking it, a call
/// is tried as the next linearized operation (lifting its call and return out of the list); reaching
/// a return means its operation should already have been linearized, so the search backtracks.
/// A cache of (linearized set, state) prunes configurations already explored.
///
/// States are interned as small integers and the model's transitions memoised per (state, operation),
/// so the loop itself works on integers only: the model runs once per distinct transition.
///
/// Operations with an unknown result (`:info`, unanswered) return after the end of the history and may
/// take effect at any point after their invocation, or never. Three rules keep them cheap, each exact
/// (it never changes the verdict):
/// - "Never" needs no branch of its own: an unknown operation left pending until every operation with a
///   known result is linearized is one that never took effect, so the search succeeds as soon as the
///   last known-result operation is linearized, and does not try unknown operations as no-ops.
/// - An unknown operation is not applied where it would leave the state as it is: that configuration
///   differs from leaving it pending only in having fewer choices left.
/// - Unknown operations that are the same call (same `f` and input) are interchangeable, because both
///   are pending from the later one's invocation to the end: only the earliest pending one of such a
///   group is tried. This needs models to depend on an operation's `f`, `input` and `output` only, as
///   the `Model` protocol says.
struct LinearizabilitySearch<M: Model> {
    /// How many search steps pass between looks at the clock and the stop flag.
    static var clockCheckIntervalSteps: Int { 1024 }
    /// How many distinct states the invalid report lists at most.
    static var possibleStatesMax: Int { 16 }
    /// The search takes memory from its budget in pieces of this size, so most growth costs no atomics.
    static var memoryChunkBytes: Int { 64 << 10 }

    /// What makes two unknown operations the same call.
    private struct CallKey: Hashable {
        var f: String
        var input: Value
    }

    private struct Frame {
        var entry: Int
        var stateBefore: StateID
        var alternative: Int
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

    // Per operation.
    private var isUnknown: [Bool] = []
    /// For an unknown operation: the latest earlier unknown operation that is the same call, or -1.
    private var twin: [Int] = []
    private var knownCount = 0

    // Interned states and memoised transitions.
    private var states: [M.State] = []
    private var stateIDs: [M.State: StateID] = [:]
    private var memo: TransitionMemo
    private var cache = ConfigurationCache()

    // Memory accounting (see `charge`).
    private let budget: MemoryBudget?
    private var chargedBytes = 0
    private var reservedBytes = 0
    private var peakBytes = 0

    /// A search over `operations` (one partition, failed ones excluded); `budget` bounds its tables
    /// (nil: unbounded).
    init(model: M, operations: [HistoryOperation], eventCount: Int, budget: MemoryBudget?) {
        self.model = model
        self.operations = operations
        self.eventCount = eventCount
        self.budget = budget
        memo = TransitionMemo(operationsCount: operations.count)
        buildEntries()
        findTwins()
    }

    private mutating func buildEntries() {
        // Time is the position in the history; an unknown result "returns" after everything,
        // ordered by invocation so the list stays deterministic.
        var timed: [(time: Int, isCall: Bool, operation: Int)] = []
        timed.reserveCapacity(operations.count * 2)
        for (index, operation) in operations.enumerated() {
            precondition(operation.outcome != .fail, "failed operations are not searched")
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

    private mutating func findTwins() {
        isUnknown = operations.map { $0.outcome != .ok }
        knownCount = isUnknown.lazy.filter { !$0 }.count
        twin = Array(repeating: -1, count: operations.count)
        var latest: [CallKey: Int] = [:]
        // Operations are in invocation order within a partition, so "earlier" is the lower index.
        for (index, operation) in operations.enumerated() where isUnknown[index] {
            precondition(operation.output == nil, "an operation with an unknown result has no output")
            let call = CallKey(f: operation.f, input: operation.input)
            if let earlier = latest[call] {
                precondition(operation.invokeEvent > operations[earlier].invokeEvent, "operations are in invocation order")
                twin[index] = earlier
            }
            latest[call] = index
        }
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

    // MARK: Memory

    /// Bytes the tables hold now. Interned states are counted at their inline size, twice (the array
    /// and the dictionary), plus a dictionary's per-entry overhead.
    private var tableBytes: Int {
        cache.bytes + memo.bytes + states.count * (2 * MemoryLayout<M.State>.stride + 16)
    }

    /// Takes `bytes` more from the budget (in chunks); false, charging nothing, if it has no room.
    private mutating func charge(_ bytes: Int) -> Bool {
        let wanted = chargedBytes + bytes
        if let budget, wanted > reservedBytes {
            let chunk = max(Self.memoryChunkBytes, wanted - reservedBytes)
            guard budget.reserve(chunk) else { return false }
            reservedBytes += chunk
        }
        chargedBytes = wanted
        peakBytes = max(peakBytes, chargedBytes)
        return true
    }

    /// Charges what the tables grew by since the last call. The cache's and the memo's slots and the
    /// cache's arena are charged before they grow; the memo's pool and the interned states only after
    /// (they are small next to the cache), so those may pass the limit by their last growth.
    private mutating func chargeGrowth() -> Bool {
        let now = tableBytes
        return now <= chargedBytes || charge(now - chargedBytes)
    }

    /// Gives back everything taken from the budget.
    private mutating func releaseMemory() {
        budget?.release(reservedBytes)
        reservedBytes = 0
    }

    // MARK: Model

    private mutating func intern(_ state: M.State) -> StateID {
        if let id = stateIDs[state] { return id }
        precondition(states.count < Int(StateID.max), "more distinct model states than state ids")
        let id = StateID(states.count)
        states.append(state)
        stateIDs[state] = id
        return id
    }

    /// The pool offset of the successors of `state` under operation `op` (a count, then state ids),
    /// computed by the model the first time; nil if the memory budget has no room for it.
    @inline(__always)
    private mutating func successors(_ state: StateID, _ op: Int) -> Int? {
        if let offset = memo.lookup(state, op) { return offset }
        return computeSuccessors(state, op)
    }

    private mutating func computeSuccessors(_ state: StateID, _ op: Int) -> Int? {
        if memo.needsGrowth {
            guard charge(memo.growthBytes) else { return nil }
            memo.grow()
        }
        let list: [StateID]
        switch model.step(states[Int(state)], operations[op]) {
        case .illegal: list = []
        case .legal(let next): list = [intern(next)]
        case .oneOf(let many):
            var ids: [StateID] = []
            for next in many {
                let id = intern(next)
                if !ids.contains(id) { ids.append(id) }
            }
            list = ids
        }
        let offset = memo.store(state, op, list)
        return chargeGrowth() ? offset : nil
    }

    // MARK: Search

    /// Runs the search; `shouldStop` is polled so a time limit or another partition's failure ends it.
    ///
    /// With `explaining`, dead ends also record the deepest linearization and every state reached
    /// for the report. The checker asks for that only in a second run, once it knows the partition is
    /// invalid, so valid histories never pay for it; without it an invalid result has no details.
    mutating func run(
        key: Value?, explaining: Bool = false, shouldStop: () -> UnknownReason?
    ) -> PartitionResult {
        defer { releaseMemory() }
        let ids = operations.map(\.id)
        var linearized = Bitset(count: operations.count)
        var stack: [Frame] = []
        stack.reserveCapacity(operations.count)
        var bestDepth = -1
        var bestFrames: [Frame] = []
        var bestFinalState: StateID = 0
        var bestFailing = -1
        var deadEndStates = Array(repeating: [StateID](), count: explaining ? operations.count : 0)
        // Frames below this depth have not been popped since `bestFrames` was taken, so a new
        // snapshot only copies the part above it (linear in pushes overall, not quadratic).
        var unchangedDepth = 0
        var steps = 0
        var knownLeft = knownCount
        var entry = next[head]

        func finish(_ verdict: Verdict, _ reason: UnknownReason? = nil) -> PartitionResult {
            PartitionResult(
                key: key, operationIDs: ids, verdict: verdict, linearization: [], failingOperationID: nil,
                possibleStates: [], searchSteps: steps, unknownReason: reason, cachedConfigurations: cache.count,
                searchBytes: peakBytes)
        }
        func memoryLimitReached() -> PartitionResult {
            let limit = budget?.limitBytes ?? 0
            return finish(
                .unknown,
                UnknownReason(
                    code: .memoryLimit,
                    message: "the search's tables would have grown past the memory limit of \(limit) bytes "
                        + "(\(cache.count) configurations cached after \(steps) steps)"))
        }

        var state = intern(model.initialState)
        guard chargeGrowth() else { return memoryLimitReached() }
        if cache.arenaGrowthBytes(for: linearized) > 0 && !charge(cache.arenaGrowthBytes(for: linearized)) {
            return memoryLimitReached()
        }
        _ = cache.insert(linearized, state)

        /// Tries alternatives of the call at `entry` starting at `first`; on success lifts and descends.
        /// Nil when the memory budget ran out.
        func tryCall(_ entry: Int, from first: Int) -> Bool? {
            let op = operationOf[entry]
            let unknown = isUnknown[op]
            if unknown && twin[op] >= 0 && !linearized.contains(twin[op]) { return false }
            guard let offset = successors(state, op) else { return nil }
            let alternatives = Int(memo.pool[offset])
            var index = first
            while index < alternatives {
                let candidate = memo.pool[offset + 1 + index]
                if unknown && candidate == state {
                    index += 1
                    continue
                }
                linearized.insert(op)
                if cache.needsGrowth {
                    guard charge(cache.growthBytes) else { return nil }
                    cache.grow()
                }
                let arenaGrowth = cache.arenaGrowthBytes(for: linearized)
                if arenaGrowth > 0 && !charge(arenaGrowth) { return nil }
                if cache.insert(linearized, candidate) {
                    stack.append(Frame(entry: entry, stateBefore: state, alternative: index))
                    state = candidate
                    lift(entry)
                    if !unknown { knownLeft -= 1 }
                    return true
                }
                linearized.remove(op)
                index += 1
            }
            return false
        }

        while knownLeft > 0 {
            steps += 1
            if steps % Self.clockCheckIntervalSteps == 0, let reason = shouldStop() {
                return finish(.unknown, reason)
            }
            if isCall[entry] {
                guard let descended = tryCall(entry, from: 0) else { return memoryLimitReached() }
                entry = descended ? next[head] : next[entry]
                continue
            }
            // A return whose operation is not linearized yet: this branch is dead. It is a known
            // result's return: unknown ones come after all of those, and the loop ends when none is left.
            let failing = operationOf[entry]
            precondition(!isUnknown[failing], "reached the return of an operation with an unknown result")
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
                guard explaining else { return finish(.invalid) }
                var result = finish(.invalid)
                result.linearization = describe(bestFrames, finalState: bestFinalState)
                result.failingOperationID = operations[bestFailing].id
                result.possibleStates = deadEndStates[bestFailing].map { model.describe(state: states[Int($0)]) }
                return result
            }
            unchangedDepth = min(unchangedDepth, stack.count)
            state = frame.stateBefore
            let op = operationOf[frame.entry]
            linearized.remove(op)
            if !isUnknown[op] { knownLeft += 1 }
            unlift(frame.entry)
            guard let descended = tryCall(frame.entry, from: frame.alternative + 1) else { return memoryLimitReached() }
            entry = descended ? next[head] : next[frame.entry]
        }
        // Every operation with a known result is linearized; the pending unknown ones never took effect.
        var result = finish(.valid)
        result.linearization = describe(stack, finalState: state)
        result.possibleStates = [model.describe(state: states[Int(state)])]
        return result
    }

    private func describe(_ frames: [Frame], finalState: StateID) -> [LinearizedOperation] {
        frames.indices.map { index in
            let after = index + 1 < frames.count ? frames[index + 1].stateBefore : finalState
            return LinearizedOperation(
                operationID: operations[operationOf[frames[index].entry]].id,
                stateBefore: model.describe(state: states[Int(frames[index].stateBefore)]),
                stateAfter: model.describe(state: states[Int(after)]))
        }
    }
}
