/// Anomalies visible in single reads, without the dependency graph: garbage, duplicate elements,
/// internal inconsistency, aborted reads (G1a), intermediate reads (G1b) and dirty updates.
enum DirectAnomalies {
    /// Appends every direct anomaly in `history` to `found`, at most one of each class per read (per key
    /// for dirty updates); stops early, keeping what it found, when the budget runs out.
    static func find(
        _ history: ListAppendHistory, orders: VersionOrders, into found: inout [ListAppendAnomaly],
        budget: inout CheckBudget
    ) throws(CheckLimitReached) {
        var facts: [Int: OrderFacts] = [:]
        for (key, order) in orders.orders { facts[key] = OrderFacts(key: key, order: order, history: history) }
        for (index, transaction) in history.transactions.enumerated() where transaction.outcome == .ok {
            if budget.isExhausted() { throw CheckLimitReached(reason: "the time limit ran out while checking reads") }
            found += reads(of: index, in: history, facts: facts)
            if let internalAnomaly = internalInconsistency(of: index, in: history) { found.append(internalAnomaly) }
        }
        found += dirtyUpdates(history, orders: orders)
    }

    /// Where the first duplicate, garbage and aborted elements sit in a key's version order. Every read
    /// of a key with an order is a prefix of it, so a read of n elements holds such an element exactly
    /// when its position is below n: one comparison per read instead of a lookup per element.
    private struct OrderFacts {
        var order: [Int]
        var firstDuplicate: Int?
        var firstGarbage: Int?
        var firstAborted: Int?

        init(key: Int, order: [Int], history: ListAppendHistory) {
            self.order = order
            var seen = Set<Int>()
            for (position, element) in order.enumerated() {
                if firstDuplicate == nil && !seen.insert(element).inserted { firstDuplicate = position }
                if let write = history.writer(key: key, element: element) {
                    if firstAborted == nil && history.transactions[write.transaction].outcome == .fail {
                        firstAborted = position
                    }
                } else if firstGarbage == nil {
                    firstGarbage = position
                }
            }
        }

        /// The element at `position` if it lies within the first `count` elements.
        func element(at position: Int?, within count: Int) -> Int? {
            guard let position, position < count else { return nil }
            return order[position]
        }
    }

    /// Checks each read of one committed transaction against the writers of its elements.
    private static func reads(
        of index: Int, in history: ListAppendHistory, facts: [Int: OrderFacts]
    ) -> [ListAppendAnomaly] {
        var found: [ListAppendAnomaly] = []
        let reader = history.id(index)
        for case .read(let key, let elements?) in history.transactions[index].microOps {
            let shown = VersionOrders.show(elements)
            func anomaly(_ anomalyClass: ListAppendAnomalyClass, _ others: [Int], _ why: String) -> ListAppendAnomaly {
                ListAppendAnomaly(
                    anomalyClass: anomalyClass, operations: ([index] + others).map(history.anomalyOperation), edges: [],
                    key: key, explanation: "T\(reader) read \(shown) of key \(key), " + why)
            }
            var twice, garbage, aborted: Int?
            if let fact = facts[key] {
                twice = fact.element(at: fact.firstDuplicate, within: elements.count)
                garbage = fact.element(at: fact.firstGarbage, within: elements.count)
                aborted = fact.element(at: fact.firstAborted, within: elements.count)
            } else {
                // No order for this key (its reads disagree): look at each element.
                var seen = Set<Int>()
                twice = elements.first { !seen.insert($0).inserted }
                garbage = elements.first { history.writer(key: key, element: $0) == nil }
                aborted = elements.first {
                    history.writer(key: key, element: $0).map { history.transactions[$0.transaction].outcome == .fail } ?? false
                }
            }
            if let twice {
                found.append(anomaly(.duplicateElements, [], "which holds \(twice) more than once"))
            }
            if let garbage {
                found.append(anomaly(.garbage, [], "but no transaction appended \(garbage) to it"))
            }
            if let aborted {
                let writer = history.writer(key: key, element: aborted)!.transaction
                found.append(anomaly(.g1a, [writer], "but \(aborted) was appended by T\(history.id(writer)), which failed"))
            }
            if let last = elements.last, let write = history.writer(key: key, element: last), write.transaction != index,
                !write.isLastToKey
            {
                found.append(
                    anomaly(
                        .g1b, [write.transaction],
                        "ending at \(last), but T\(history.id(write.transaction)) appended more to key \(key) after "
                            + "\(last) in the same transaction: an intermediate state"))
            }
        }
        return found
    }

    /// A committed transaction's reads must show its own earlier appends and agree with its own earlier
    /// reads of the key; the first step that does not is reported.
    private static func internalInconsistency(of index: Int, in history: ListAppendHistory) -> ListAppendAnomaly? {
        // Per key: the whole list once read (`complete`), or only the suffix of own appends before any read.
        var expected: [Int: (complete: Bool, elements: [Int])] = [:]
        for microOp in history.transactions[index].microOps {
            switch microOp {
            case .append(let key, let element):
                expected[key, default: (false, [])].elements.append(element)
            case .read(let key, let elements?):
                if let state = expected[key] {
                    let agrees = state.complete ? elements == state.elements : elements.ends(with: state.elements)
                    if !agrees {
                        let implied = (state.complete ? "" : ".. ") + state.elements.map(String.init).joined(separator: " ")
                        return ListAppendAnomaly(
                            anomalyClass: .internal, operations: [history.anomalyOperation(index)], edges: [], key: key,
                            explanation: "T\(history.id(index)) read \(VersionOrders.show(elements)) of key \(key), "
                                + "but its own earlier steps imply [\(implied)]")
                    }
                }
                expected[key] = (true, elements)
            case .read(_, nil):
                preconditionFailure("a committed transaction's reads are known")
            }
        }
        return nil
    }

    /// In a key's order, an element whose transaction failed followed by one whose transaction did not.
    private static func dirtyUpdates(_ history: ListAppendHistory, orders: VersionOrders) -> [ListAppendAnomaly] {
        var found: [ListAppendAnomaly] = []
        for (key, order) in orders.orders.sorted(by: { $0.key < $1.key }) {
            let writers = order.map { history.writer(key: key, element: $0)?.transaction }
            guard let aborted = writers.firstIndex(where: { $0.map { history.transactions[$0].outcome == .fail } ?? false }),
                let later = writers[(aborted + 1)...].firstIndex(where: {
                    $0.map { history.transactions[$0].outcome != .fail } ?? false
                })
            else { continue }
            let failedWriter = writers[aborted]!
            let laterWriter = writers[later]!
            found.append(
                ListAppendAnomaly(
                    anomalyClass: .dirtyUpdate,
                    operations: [history.anomalyOperation(failedWriter), history.anomalyOperation(laterWriter)], edges: [],
                    key: key,
                    explanation: "key \(key) holds \(order[aborted]) from T\(history.id(failedWriter)), which failed, "
                        + "followed by \(order[later]) from T\(history.id(laterWriter)), which did not"))
        }
        return found
    }
}

extension Array where Element: Equatable {
    /// True when the array's last elements are `suffix`.
    fileprivate func ends(with suffix: [Element]) -> Bool {
        count >= suffix.count && self[(count - suffix.count)...].elementsEqual(suffix)
    }
}
