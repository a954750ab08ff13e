/// Finds, in one strongly connected component, a short example cycle of each anomaly class it holds.
///
/// Classes are tried from the weakest (fewest kinds of edge) to the strongest, as Elle does: a cycle is
/// built around one "seed" edge of the class's defining kind, closed by the shortest path back through
/// the kinds the class allows, so a cycle reported as `G2-item` exists only where no `G-single` closes
/// the same seed. Every cycle is then classified by the edges it really has, so a report never calls a
/// cycle stronger than it is.
struct CycleSearch {
    /// How one class is searched for.
    struct Spec {
        var anomalyClass: ListAppendAnomalyClass
        /// The kind of the edge each candidate cycle is built around.
        var seed: DependencyKind
        /// Kinds the path closing the cycle may use.
        var path: DependencyKinds
        /// Most rw edges the closing path may use; nil for any number.
        var rwOnPathMax: Int?
    }

    /// One edge of a found cycle: the node it leaves and the edge.
    typealias Step = (from: Int, edge: DependencyGraph.Edge)

    /// The search order, weakest first; the realtime classes last, since a cycle needing real time is
    /// only a strict-serializability violation.
    static let specs: [Spec] = [
        Spec(anomalyClass: .g0, seed: .ww, path: [.ww], rwOnPathMax: 0),
        Spec(anomalyClass: .g1c, seed: .wr, path: [.ww, .wr], rwOnPathMax: 0),
        Spec(anomalyClass: .gSingle, seed: .rw, path: [.ww, .wr], rwOnPathMax: 0),
        Spec(anomalyClass: .g2Item, seed: .rw, path: [.ww, .wr, .rw], rwOnPathMax: nil),
        Spec(anomalyClass: .g0Realtime, seed: .realtime, path: [.ww, .realtime], rwOnPathMax: 0),
        Spec(anomalyClass: .g1cRealtime, seed: .realtime, path: [.ww, .wr, .realtime], rwOnPathMax: 0),
        Spec(anomalyClass: .gSingleRealtime, seed: .realtime, path: .all, rwOnPathMax: 1),
        Spec(anomalyClass: .g2ItemRealtime, seed: .realtime, path: .all, rwOnPathMax: nil),
    ]

    /// Seed edges tried per class and component before giving up on that class there. Seeds whose ends
    /// the class's edges cannot connect are skipped without counting, so this only bounds searches that
    /// might succeed; it keeps a huge component from costing (edges × edges).
    static let seedAttemptsPerClassMax = 32

    /// The class of a cycle with these edges.
    static func classify(_ kinds: [DependencyKind]) -> ListAppendAnomalyClass {
        let rwCount = kinds.filter { $0 == .rw }.count
        let realtime = kinds.contains(.realtime)
        switch (rwCount, kinds.contains(.wr)) {
        case (0, false): return realtime ? .g0Realtime : .g0
        case (0, true): return realtime ? .g1cRealtime : .g1c
        case (1, _): return realtime ? .gSingleRealtime : .gSingle
        default: return realtime ? .g2ItemRealtime : .g2Item
        }
    }

    /// One cycle per class found in `component`, in `specs` order.
    static func cycles(
        in component: [Int], graph: DependencyGraph, finder: inout ComponentFinder, budget: inout CheckBudget
    ) throws(CheckLimitReached) -> [(ListAppendAnomalyClass, [Step])] {
        var found: [(ListAppendAnomalyClass, [Step])] = []
        for spec in specs where !found.contains(where: { $0.0 == spec.anomalyClass }) {
            var allowed = spec.path
            allowed.insert(DependencyKinds(spec.seed))
            var within: [Int: Int] = [:]  // node -> its component under `allowed`
            for (index, part) in try finder.components(of: component, in: graph, kinds: allowed, budget: &budget).enumerated() {
                for node in part { within[node] = index }
            }
            var attempts = 0
            seeds: for node in component {
                guard let part = within[node] else { continue }
                for edge in graph.successors[node] where edge.kind == spec.seed && within[edge.target] == part {
                    attempts += 1
                    if attempts > seedAttemptsPerClassMax { break seeds }
                    guard
                        let path = try shortestPath(
                            from: edge.target, to: node, graph: graph, spec: spec, part: part, within: within, budget: &budget)
                    else { continue }
                    let cycle = [(from: node, edge: edge)] + path
                    let actual = classify(cycle.map(\.edge.kind))
                    if !found.contains(where: { $0.0 == actual }) { found.append((actual, cycle)) }
                    if actual == spec.anomalyClass { break seeds }
                }
            }
        }
        return found.sorted { $0.0 < $1.0 }
    }

    /// Breadth-first search for the fewest edges from `start` to `goal`, inside one component, through
    /// the kinds `spec.path` allows and at most `spec.rwOnPathMax` rw edges.
    private static func shortestPath(
        from start: Int, to goal: Int, graph: DependencyGraph, spec: Spec, part: Int, within: [Int: Int],
        budget: inout CheckBudget
    ) throws(CheckLimitReached) -> [Step]? {
        // A state is a node and the rw edges used to reach it (always 0 when rw edges are unlimited).
        let layers = (spec.rwOnPathMax ?? 0) + 1
        var parent: [Int: (state: Int, step: Step)] = [:]
        var queue = [start * layers]
        var seen: Set<Int> = [start * layers]
        var head = 0
        while head < queue.count {
            if budget.isExhausted() { throw CheckLimitReached(reason: "the time limit ran out while finding cycles") }
            let state = queue[head]
            head += 1
            let node = state / layers
            let used = state % layers
            if node == goal {
                var steps: [Step] = []
                var current = state
                while let previous = parent[current] {
                    steps.append(previous.step)
                    current = previous.state
                }
                return steps.reversed()
            }
            for edge in graph.successors[node] where spec.path.contains(edge.kind) && within[edge.target] == part {
                var nextUsed = used
                if edge.kind == .rw, let limit = spec.rwOnPathMax {
                    nextUsed += 1
                    if nextUsed > limit { continue }
                }
                let next = edge.target * layers + nextUsed
                guard seen.insert(next).inserted else { continue }
                parent[next] = (state, (from: node, edge: edge))
                queue.append(next)
            }
        }
        return nil
    }
}
