/// The order in which each key's elements were appended, as the committed reads reveal it.
///
/// Appends only ever extend a list, so in a serializable history every read of a key is a prefix of
/// the longest read of that key, and the longest read is the version order as far as anyone saw it.
/// Elements appended but never read have no known position; they enter the analysis only if read.
struct VersionOrders {
    /// Key → its elements in append order, for keys whose reads all agree.
    private(set) var orders: [Int: [Int]] = [:]
    /// One `incompatible-order` anomaly per key whose reads disagree; such keys get no order.
    private(set) var anomalies: [ListAppendAnomaly] = []

    /// Infers the orders from the `:ok` reads of `history`.
    init(_ history: ListAppendHistory) {
        var readsByKey: [Int: [(transaction: Int, elements: [Int])]] = [:]
        var keyOrder: [Int] = []
        for (index, transaction) in history.transactions.enumerated() where transaction.outcome == .ok {
            for case .read(let key, let elements?) in transaction.microOps {
                if readsByKey[key] == nil { keyOrder.append(key) }
                readsByKey[key, default: []].append((index, elements))
            }
        }
        for key in keyOrder {
            let reads = readsByKey[key]!
            let longest = reads.max { $0.elements.count < $1.elements.count }!
            if let clash = reads.first(where: { !longest.elements.starts(with: $0.elements) }) {
                anomalies.append(
                    ListAppendAnomaly(
                        anomalyClass: .incompatibleOrder,
                        operations: [history.anomalyOperation(longest.transaction), history.anomalyOperation(clash.transaction)],
                        edges: [], key: key,
                        explanation: "T\(history.id(longest.transaction)) read \(Self.show(longest.elements)) of key \(key) "
                            + "and T\(history.id(clash.transaction)) read \(Self.show(clash.elements)): neither is a "
                            + "prefix of the other, so no one order of appends explains both"))
                continue
            }
            orders[key] = longest.elements
        }
    }

    /// `[1 2 3]`, as EDN writes a vector.
    static func show(_ elements: [Int]) -> String {
        "[" + elements.map(String.init).joined(separator: " ") + "]"
    }
}

extension ListAppendHistory {
    /// The history operation id of transaction `index`: the `T` number in explanations.
    func id(_ index: Int) -> Int { transactions[index].operation.id }

    /// Transaction `index` as reports show it.
    func anomalyOperation(_ index: Int) -> AnomalyOperation {
        let transaction = transactions[index]
        return AnomalyOperation(
            id: transaction.operation.id, process: transaction.operation.process, outcome: transaction.outcome,
            value: transaction.value)
    }
}
