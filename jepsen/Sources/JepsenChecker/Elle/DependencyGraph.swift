/// The dependency graph between transactions: ww, wr and rw edges inferred from the version orders,
/// and real-time edges for strict serializability.
///
/// Nodes are indexes into `ListAppendHistory.transactions`. Committed transactions are always nodes;
/// a transaction with an unknown outcome joins only if some committed read saw one of its appends;
/// failed ones never do.
struct DependencyGraph {
    /// An edge as stored: compact, explained only when it ends up in a reported cycle.
    struct Edge {
        var target: Int
        var kind: DependencyKind
        /// Meaningless for `realtime`.
        var key: Int
        var element: Int?
        var next: Int?
    }

    /// Outgoing edges of each transaction.
    private(set) var successors: [[Edge]]
    /// Whether each transaction is a node (see the type's comment).
    private(set) var isNode: [Bool]
    /// All edges, for the edge limit and the report.
    private(set) var edgeCount = 0

    /// The most edges built before the check gives up with `unknown`: about 40 bytes each, so the graph
    /// stays under a few hundred MiB whatever the history.
    static let dependencyEdgesMax = 8_000_000

    /// Builds every edge, or stops when the budget or `dependencyEdgesMax` runs out.
    init(
        _ history: ListAppendHistory, orders: VersionOrders, eventCount: Int, budget: inout CheckBudget
    ) throws(CheckLimitReached) {
        let count = history.transactions.count
        successors = Array(repeating: [], count: count)
        isNode = history.transactions.map { $0.outcome == .ok }
        for transaction in history.transactions where transaction.outcome == .ok {
            for case .read(let key, let elements?) in transaction.microOps {
                for element in elements {
                    if let write = history.writer(key: key, element: element),
                        history.transactions[write.transaction].outcome == .info
                    {
                        isNode[write.transaction] = true
                    }
                }
            }
        }
        try addWriteWriteEdges(history, orders: orders, budget: &budget)
        try addReadEdges(history, orders: orders, budget: &budget)
        try addRealtimeEdges(history, eventCount: eventCount, budget: &budget)
    }

    /// The edge from node `from` to `edge.target`, in the report's terms.
    func dependencyEdge(from: Int, _ edge: Edge, in history: ListAppendHistory) -> DependencyEdge {
        DependencyEdge(
            from: history.id(from), to: history.id(edge.target), kind: edge.kind,
            key: edge.kind == .realtime ? nil : edge.key, element: edge.element, nextElement: edge.next)
    }

    private mutating func add(_ from: Int, _ edge: Edge, budget: inout CheckBudget) throws(CheckLimitReached) {
        guard from != edge.target, isNode[from], isNode[edge.target] else { return }
        guard edgeCount < Self.dependencyEdgesMax else {
            throw CheckLimitReached(reason: "the dependency graph passed \(Self.dependencyEdgesMax) edges")
        }
        if budget.isExhausted() { throw CheckLimitReached(reason: "the time limit ran out while building the graph") }
        successors[from].append(edge)
        edgeCount += 1
    }

    /// ww: the writers of neighbouring elements of each key's order.
    private mutating func addWriteWriteEdges(
        _ history: ListAppendHistory, orders: VersionOrders, budget: inout CheckBudget
    ) throws(CheckLimitReached) {
        for (key, order) in orders.orders.sorted(by: { $0.key < $1.key }) {  // sorted: reports must not depend on hashing
            for (earlier, later) in zip(order, order.dropFirst()) {
                guard let first = history.writer(key: key, element: earlier),
                    let second = history.writer(key: key, element: later)
                else { continue }
                try add(
                    first.transaction, Edge(target: second.transaction, kind: .ww, key: key, element: earlier, next: later),
                    budget: &budget)
            }
        }
    }

    /// wr and rw, from each committed transaction's first read of each key, with the transaction's own
    /// earlier appends taken off the end: what it saw of the others.
    private mutating func addReadEdges(
        _ history: ListAppendHistory, orders: VersionOrders, budget: inout CheckBudget
    ) throws(CheckLimitReached) {
        for (reader, transaction) in history.transactions.enumerated() where transaction.outcome == .ok {
            var ownAppends: [Int: [Int]] = [:]
            var readKeys = Set<Int>()
            for microOp in transaction.microOps {
                switch microOp {
                case .append(let key, let element):
                    ownAppends[key, default: []].append(element)
                case .read(let key, let elements?):
                    guard readKeys.insert(key).inserted else { continue }
                    let own = ownAppends[key] ?? []
                    // A read that does not end with the reader's own appends is an internal anomaly,
                    // reported elsewhere; it says nothing reliable about the others.
                    guard elements.count >= own.count, elements.suffix(own.count).elementsEqual(own) else { continue }
                    let seen = elements.dropLast(own.count)
                    if let last = seen.last, let write = history.writer(key: key, element: last) {
                        try add(write.transaction, Edge(target: reader, kind: .wr, key: key, element: last), budget: &budget)
                    }
                    if let order = orders.orders[key], seen.count < order.count,
                        let next = history.writer(key: key, element: order[seen.count])
                    {
                        try add(
                            reader,
                            Edge(target: next.transaction, kind: .rw, key: key, element: seen.last, next: order[seen.count]),
                            budget: &budget)
                    }
                case .read(_, nil):
                    preconditionFailure("a committed transaction's reads are known")
                }
            }
        }
    }

    /// realtime: each node to the committed transactions that completed most recently before it was
    /// invoked (the frontier). A transaction that precedes a frontier member leaves the frontier when
    /// that member completes, since the path through the member implies its edge; this keeps the edges
    /// near (transactions × concurrency) instead of quadratic.
    private mutating func addRealtimeEdges(
        _ history: ListAppendHistory, eventCount: Int, budget: inout CheckBudget
    ) throws(CheckLimitReached) {
        // Event index → node invoked (positive: index + 1) or completed (negative: -(index + 1)).
        var eventNode = [Int](repeating: 0, count: eventCount)
        for (index, transaction) in history.transactions.enumerated() where isNode[index] {
            eventNode[transaction.operation.invokeEvent] = index + 1
            if transaction.outcome == .ok, let complete = transaction.operation.completeEvent {
                eventNode[complete] = -(index + 1)
            }
        }
        var frontier = Set<Int>()
        var predecessors: [Int: [Int]] = [:]
        for marker in eventNode where marker != 0 {
            if marker > 0 {
                let node = marker - 1
                let before = frontier.sorted()  // sorted so that reports do not depend on hashing
                for earlier in before {
                    try add(earlier, Edge(target: node, kind: .realtime, key: 0), budget: &budget)
                }
                if history.transactions[node].outcome == .ok { predecessors[node] = before }
            } else {
                let node = -marker - 1
                for earlier in predecessors.removeValue(forKey: node) ?? [] { frontier.remove(earlier) }
                frontier.insert(node)
            }
        }
    }
}
