/// What a model says about applying one operation to one state.
public enum Step<State> {
    /// The operation with its result cannot happen in that state.
    case illegal
    /// It can, and leads to this state.
    case legal(State)
    /// It can, and may lead to any of these states (a nondeterministic model).
    case oneOf([State])
}

/// A group of operations that can be checked on its own (Porcupine's partition, e.g. one key).
public struct Partition: Sendable {
    /// What the group shares, e.g. the key; nil when the history is not split.
    public var key: Value?
    /// The operations of the group, in invocation order.
    public var operations: [HistoryOperation]

    /// Makes a partition.
    public init(key: Value?, operations: [HistoryOperation]) {
        self.key = key
        self.operations = operations
    }

    /// Splits operations whose input is a `[key value]` tuple into one partition per key, in the
    /// order keys first appear (operations keep their invocation order within a key).
    public static func byFirstElement(_ operations: [HistoryOperation]) -> [Partition] {
        var order: [Value] = []
        var groups: [Value: [HistoryOperation]] = [:]
        for operation in operations {
            let key = operation.input.elements?.first ?? .nil
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(operation)
        }
        return order.map { Partition(key: $0, operations: groups[$0]!) }
    }
}

/// A sequential specification, in the shape of Porcupine's models: pure functions only.
///
/// The checker treats an operation whose result is unknown (`output == nil`) as possibly never
/// happening, so `step` only has to say what happens if it does take effect.
public protocol Model: Sendable {
    /// The model's state; equality and hashing drive the search cache.
    associatedtype State: Hashable & Sendable

    /// The name used on the command line and in reports.
    var name: String { get }
    /// The state before any operation.
    var initialState: State { get }
    /// Applies `operation` (its `input`, and its `output` when known) to `state`.
    func step(_ state: State, _ operation: HistoryOperation) -> Step<State>
    /// Why the model cannot interpret `operation` at all (unknown `:f`, wrong value shape), or nil.
    func rejection(of operation: HistoryOperation) -> String?
    /// Splits the operations into independently checkable groups; the default keeps them together.
    func partition(_ operations: [HistoryOperation]) -> [Partition]
    /// The state written for the report.
    func describe(state: State) -> String
    /// The operation written for the report, e.g. `cas 1→2`.
    func describe(operation: HistoryOperation) -> String
}

extension Model {
    /// One partition holding everything.
    public func partition(_ operations: [HistoryOperation]) -> [Partition] {
        [Partition(key: nil, operations: operations)]
    }

    /// The state as EDN.
    public func describe(state: State) -> String { String(describing: state) }

    /// `f input → output` (or `→ ?` when the result is unknown).
    public func describe(operation: HistoryOperation) -> String {
        let output = operation.output.map { EDNWriter.write($0) } ?? "?"
        let input = operation.input.isNil ? "" : " " + EDNWriter.write(operation.input)
        return "\(operation.f)\(input) → \(output)"
    }
}
