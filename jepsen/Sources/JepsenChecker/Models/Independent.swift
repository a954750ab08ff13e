/// Jepsen's `independent` wrapper: every value is a `[key value]` tuple, each key is its own copy of
/// the inner model, and keys are checked as separate partitions (in parallel).
///
/// This is how Jepsen's etcd and Keel's register workloads run many registers in one test:
/// `{:f :cas, :value [7 [1 2]]}` is `cas [1 2]` on register 7.
public struct Independent<Inner: Model>: Model {
    /// The model each key follows.
    public var inner: Inner
    /// `independent-` and the inner model's name.
    public var name: String { "independent-" + inner.name }
    /// Every key starts in the inner model's initial state.
    public var initialState: Inner.State { inner.initialState }

    /// Wraps `inner`.
    public init(_ inner: Inner) { self.inner = inner }

    /// Unwraps the tuple and lets the inner model decide.
    public func step(_ state: Inner.State, _ operation: HistoryOperation) -> Step<Inner.State> {
        guard let unwrapped = Self.unwrap(operation) else { return .illegal }
        return inner.step(state, unwrapped)
    }

    /// Rejects values that are not `[key value]`, then asks the inner model.
    public func rejection(of operation: HistoryOperation) -> String? {
        guard let unwrapped = Self.unwrap(operation) else {
            return "an independent operation needs [key value], found \(operation.input)"
                + (operation.output.map { " → \($0)" } ?? "")
        }
        return inner.rejection(of: unwrapped)
    }

    /// One partition per key.
    public func partition(_ operations: [HistoryOperation]) -> [Partition] {
        Partition.byFirstElement(operations)
    }

    /// The inner model's description of the state.
    public func describe(state: Inner.State) -> String { inner.describe(state: state) }

    /// `key 7: cas 1→2`.
    public func describe(operation: HistoryOperation) -> String {
        guard let unwrapped = Self.unwrap(operation), let key = operation.input.elements?.first else {
            return "\(operation.f) \(operation.input)"
        }
        return "key \(EDNWriter.write(key)): " + inner.describe(operation: unwrapped)
    }

    /// The operation with the key stripped from its input and output; nil unless both are tuples of
    /// the same key.
    static func unwrap(_ operation: HistoryOperation) -> HistoryOperation? {
        guard let input = operation.input.elements, input.count == 2 else { return nil }
        var unwrapped = operation
        unwrapped.input = input[1]
        if let output = operation.output {
            guard let pair = output.elements, pair.count == 2, pair[0] == input[0] else { return nil }
            unwrapped.output = pair[1]
        }
        return unwrapped
    }
}
