/// A key-value map with `get`, `put` and `append`, checked one key at a time.
///
/// Values are Jepsen's independent tuples `[key value]`: `get` is invoked with `[k nil]` and completes
/// with `[k v]`; `put [k v]` sets; `append [k s]` concatenates strings (or adds to a vector).
/// An absent key reads as nil.
public struct KeyValueMap: Model {
    /// The value every key has before any write (usually `.nil`, absent).
    public var initialState: Value
    /// `kv`.
    public var name: String { "kv" }

    /// A map whose keys all start at `initial`.
    public init(initial: Value = .nil) { initialState = initial }

    /// Applies get/put/append to the value of the operation's key.
    public func step(_ state: Value, _ operation: HistoryOperation) -> Step<Value> {
        guard let pair = operation.input.elements, pair.count == 2 else { return .illegal }
        switch operation.f {
        case "get":
            guard let output = operation.output else { return .legal(state) }
            guard let seen = output.elements, seen.count == 2 else { return .illegal }
            return seen[1] == state ? .legal(state) : .illegal
        case "put":
            return .legal(pair[1])
        case "append":
            switch (state, pair[1]) {
            case (.nil, .string(let suffix)): return .legal(.string(suffix))
            case (.string(let prefix), .string(let suffix)): return .legal(.string(prefix + suffix))
            case (.nil, let element): return .legal(.vector([element]))
            case (.vector(let items), let element): return .legal(.vector(items + [element]))
            default: return .illegal
            }
        default:
            return .illegal
        }
    }

    /// Rejects unknown functions and values that are not `[key value]`.
    public func rejection(of operation: HistoryOperation) -> String? {
        guard ["get", "put", "append"].contains(operation.f) else {
            return "a key-value map has only :get, :put and :append, found :\(operation.f)"
        }
        guard let pair = operation.input.elements, pair.count == 2 else {
            return "a key-value operation needs [key value], found \(operation.input)"
        }
        if operation.f == "get", let output = operation.output {
            guard let seen = output.elements, seen.count == 2, seen[0] == pair[0] else {
                return "a get must complete with [\(pair[0]) value], found \(output)"
            }
        }
        return nil
    }

    /// One partition per key, as keys never interact.
    public func partition(_ operations: [HistoryOperation]) -> [Partition] {
        Partition.byFirstElement(operations)
    }

    /// The value, or `absent`.
    public func describe(state: Value) -> String { state.isNil ? "absent" : EDNWriter.write(state) }
}
