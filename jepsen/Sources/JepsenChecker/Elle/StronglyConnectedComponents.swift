/// A set of dependency kinds, to search the graph through some edges only.
struct DependencyKinds: OptionSet {
    let rawValue: UInt8

    static let ww = DependencyKinds(.ww)
    static let wr = DependencyKinds(.wr)
    static let rw = DependencyKinds(.rw)
    static let realtime = DependencyKinds(.realtime)
    static let all: DependencyKinds = [.ww, .wr, .rw, .realtime]

    init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The set holding one kind.
    init(_ kind: DependencyKind) {
        switch kind {
        case .ww: rawValue = 1
        case .wr: rawValue = 2
        case .rw: rawValue = 4
        case .realtime: rawValue = 8
        }
    }

    /// Whether `kind` is in the set.
    func contains(_ kind: DependencyKind) -> Bool { contains(DependencyKinds(kind)) }
}

/// Tarjan's strongly connected components, iterative so that a long chain of transactions cannot
/// overflow the stack; reusable across calls so that searching many small components does not
/// allocate per-node arrays each time.
struct ComponentFinder {
    private var order: [Int]  // discovery number, -1 while unvisited
    private var low: [Int]
    private var onStack: [Bool]
    private var scopeStamp: [Int]
    private var stamp = 0

    /// Prepares for a graph of `nodeCount` nodes.
    init(nodeCount: Int) {
        order = Array(repeating: -1, count: nodeCount)
        low = Array(repeating: 0, count: nodeCount)
        onStack = Array(repeating: false, count: nodeCount)
        scopeStamp = Array(repeating: 0, count: nodeCount)
    }

    /// The components with two or more nodes of the subgraph induced by `scope`, following only edges
    /// of `kinds`. Self-edges never exist in the graph, so a single node is never a cycle.
    mutating func components(
        of scope: [Int], in graph: DependencyGraph, kinds: DependencyKinds, budget: inout CheckBudget
    ) throws(CheckLimitReached) -> [[Int]] {
        stamp += 1
        for node in scope { scopeStamp[node] = stamp }
        defer {
            for node in scope {
                order[node] = -1
                onStack[node] = false
            }
        }
        var found: [[Int]] = []
        var counter = 0
        var stack: [Int] = []
        var calls: [(node: Int, nextEdge: Int)] = []
        for root in scope where order[root] == -1 {
            visit(root, &counter, &stack, &calls)
            while let (node, edgeIndex) = calls.last {
                if budget.isExhausted() { throw CheckLimitReached(reason: "the time limit ran out while finding cycles") }
                let edges = graph.successors[node]
                if edgeIndex < edges.count {
                    calls[calls.count - 1].nextEdge += 1
                    let edge = edges[edgeIndex]
                    guard kinds.contains(edge.kind), scopeStamp[edge.target] == stamp else { continue }
                    if order[edge.target] == -1 {
                        visit(edge.target, &counter, &stack, &calls)
                    } else if onStack[edge.target] {
                        low[node] = min(low[node], order[edge.target])
                    }
                    continue
                }
                calls.removeLast()
                if let parent = calls.last { low[parent.node] = min(low[parent.node], low[node]) }
                guard low[node] == order[node] else { continue }
                var component: [Int] = []
                while true {
                    let member = stack.removeLast()
                    onStack[member] = false
                    component.append(member)
                    if member == node { break }
                }
                if component.count > 1 { found.append(component.sorted()) }
            }
        }
        return found
    }

    private mutating func visit(_ node: Int, _ counter: inout Int, _ stack: inout [Int], _ calls: inout [(node: Int, nextEdge: Int)]) {
        order[node] = counter
        low[node] = counter
        counter += 1
        stack.append(node)
        onStack[node] = true
        calls.append((node, 0))
    }
}
