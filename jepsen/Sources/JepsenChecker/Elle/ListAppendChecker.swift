/// Checks a list-append transactional history for strict serializability, after Elle (Kingsbury and
/// Alvaro, "Elle: Inferring Isolation Anomalies from Experimental Observations", VLDB 2020).
///
/// Because appends only extend lists and every appended element is unique, the reads reveal each key's
/// order of versions and who wrote each version. From that the checker reports direct anomalies (bad
/// single reads), then builds the dependency graph (ww, wr, rw, and real-time edges between
/// transactions) and reports a cycle for each anomaly class in each strongly connected component. It
/// never searches over orders, so it runs in about linear time, unlike a linearizability search.
public enum ListAppendChecker {
    /// Checks `history`, stopping with `unknown` after `timeLimit` (nil: no limit) or when the graph
    /// passes `DependencyGraph.dependencyEdgesMax` edges, unless an anomaly is already certain. Throws
    /// if an operation is not a well-formed `:txn` or an element is appended twice to one key.
    public static func check(_ history: History, timeLimit: Duration? = nil) throws(HistoryError) -> ListAppendResult {
        let clock = ContinuousClock()
        let start = clock.now
        var budget = CheckBudget(timeLimit: timeLimit)
        let transactions = try ListAppendHistory(history)
        let orders = VersionOrders(transactions)
        var anomalies = orders.anomalies
        var unknownReason: String?
        var edgeCount = 0
        var cyclicComponents = 0
        do throws(CheckLimitReached) {
            try DirectAnomalies.find(transactions, orders: orders, into: &anomalies, budget: &budget)
            let graph = try DependencyGraph(
                transactions, orders: orders, eventCount: history.events.count, budget: &budget)
            edgeCount = graph.edgeCount
            var finder = ComponentFinder(nodeCount: transactions.transactions.count)
            let everyNode = Array(transactions.transactions.indices)
            let components = try finder.components(of: everyNode, in: graph, kinds: .all, budget: &budget)
            cyclicComponents = components.count
            for component in components {
                for (anomalyClass, steps) in try CycleSearch.cycles(
                    in: component, graph: graph, finder: &finder, budget: &budget)
                {
                    anomalies.append(cycleAnomaly(anomalyClass, steps, graph: graph, history: transactions))
                }
            }
        } catch {
            unknownReason = error.reason
        }
        // Stable: anomalies of one class keep the order they were found in.
        let ordered = anomalies.enumerated().sorted {
            ($0.element.anomalyClass, $0.offset) < ($1.element.anomalyClass, $1.offset)
        }.map(\.element)
        let verdict: Verdict = !ordered.isEmpty ? .invalid : unknownReason != nil ? .unknown : .valid
        return ListAppendResult(
            verdict: verdict, anomalies: ordered, unknownReason: verdict == .unknown ? unknownReason : nil,
            transactionCount: transactions.transactions.count, dependencyEdgeCount: edgeCount,
            cyclicComponentCount: cyclicComponents, elapsed: clock.now - start)
    }

    private static func cycleAnomaly(
        _ anomalyClass: ListAppendAnomalyClass, _ steps: [CycleSearch.Step], graph: DependencyGraph,
        history: ListAppendHistory
    ) -> ListAppendAnomaly {
        let edges = steps.map { graph.dependencyEdge(from: $0.from, $0.edge, in: history) }
        return ListAppendAnomaly(
            anomalyClass: anomalyClass, operations: steps.map { history.anomalyOperation($0.from) }, edges: edges,
            key: nil, explanation: edges.map(\.explanation).joined(separator: "; "))
    }
}
