/// A list-append history decoded into transactions of micro-operations, with each appended element
/// traced to the transaction that appended it.
///
/// Shape (Keel's `append` workload, after Elle's): `{:f :txn, :value [[:append 3 7] [:r 4 nil]]}`; the
/// `:ok` completion fills in the reads, `[:r 4 [1 5 2]]`. Keys and elements are integers, and each
/// (key, element) pair is appended at most once in the whole history, which is what lets a read name
/// its writers.
struct ListAppendHistory {
    /// One step of a transaction.
    enum MicroOp: Equatable {
        /// Append `element` to the list at `key`.
        case append(key: Int, element: Int)
        /// Read the list at `key`; nil when the result is unknown (the transaction did not complete `:ok`).
        case read(key: Int, elements: [Int]?)
    }

    /// One `:txn` operation.
    struct Transaction {
        /// The operation as paired from the history.
        var operation: HistoryOperation
        /// The micro-operations: as completed for `:ok`, as invoked otherwise (reads then unknown).
        var microOps: [MicroOp]
        /// The value shown in reports: the completion's for `:ok`, the invocation's otherwise.
        var value: Value
        var outcome: Outcome { operation.outcome }
    }

    /// Where an element was appended.
    struct Write {
        /// Index into `transactions`.
        var transaction: Int
        /// True when no later micro-op of the same transaction appends to the same key.
        var isLastToKey: Bool
    }

    /// A key and one of its elements: the identity of a write.
    struct KeyElement: Hashable {
        var key: Int
        var element: Int
    }

    /// Every `:txn`, failed ones included (they matter for aborted reads), in invocation order.
    private(set) var transactions: [Transaction] = []
    /// The write of each appended (key, element).
    private(set) var writes: [KeyElement: Write] = [:]

    /// Decodes `history`; throws for an operation that is not a well-formed `:txn`, or an element
    /// appended twice to one key.
    init(_ history: History) throws(HistoryError) {
        for operation in history.operations {
            let line = history.events[operation.invokeEvent].line
            guard operation.f == "txn" else {
                throw HistoryError(
                    code: .badModelInput, message: "a list-append history has only :txn, found :\(operation.f)", line: line)
            }
            let completed = operation.outcome == .ok
            let value = completed ? (operation.output ?? .nil) : operation.input
            let microOps = try Self.microOps(of: value, readsKnown: completed, line: line)
            let index = transactions.count
            for (position, microOp) in microOps.enumerated() {
                guard case .append(let key, let element) = microOp else { continue }
                let later = microOps[(position + 1)...].contains {
                    if case .append(key, _) = $0 { return true }
                    return false
                }
                let written = KeyElement(key: key, element: element)
                if let earlier = writes[written] {
                    let earlierLine = history.events[transactions[earlier.transaction].operation.invokeEvent].line
                    throw HistoryError(
                        code: .badModelInput,
                        message: "element \(element) is appended to key \(key) twice (first at line \(earlierLine)); "
                            + "the list-append checker needs unique elements per key",
                        line: line)
                }
                writes[written] = Write(transaction: index, isLastToKey: !later)
            }
            transactions.append(Transaction(operation: operation, microOps: microOps, value: value))
        }
    }

    /// The transaction that appended `element` to `key`, if any did.
    func writer(key: Int, element: Int) -> Write? {
        writes[KeyElement(key: key, element: element)]
    }

    private static func microOps(of value: Value, readsKnown: Bool, line: Int) throws(HistoryError) -> [MicroOp] {
        guard let items = value.elements else {
            throw HistoryError(
                code: .badModelInput, message: "a :txn value is a vector of micro-operations, found \(value)", line: line)
        }
        var out: [MicroOp] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard let parts = item.elements, parts.count == 3, let name = parts[0].keywordName,
                let key = parts[1].intValue
            else {
                throw HistoryError(
                    code: .badModelInput, message: "a micro-operation is [:append k v] or [:r k list], found \(item)",
                    line: line)
            }
            switch name {
            case "append":
                guard let element = parts[2].intValue else {
                    throw HistoryError(code: .badModelInput, message: "appended elements are integers, found \(item)", line: line)
                }
                out.append(.append(key: key, element: element))
            case "r":
                guard readsKnown else {
                    out.append(.read(key: key, elements: nil))
                    continue
                }
                // An :ok read of nil saw an empty (never written) list.
                let list = parts[2].isNil ? [] : parts[2].elements
                guard let numbers = list?.compactMap(\.intValue), numbers.count == list?.count else {
                    throw HistoryError(code: .badModelInput, message: "a read returns a list of integers, found \(item)", line: line)
                }
                out.append(.read(key: key, elements: numbers))
            default:
                throw HistoryError(
                    code: .badModelInput, message: "unknown micro-operation :\(name) (expected :append or :r)", line: line)
            }
        }
        return out
    }
}
