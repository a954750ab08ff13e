/// Knossos's multi-register: `:txn` operations whose value is a list of `[:read k v]` and
/// `[:write k v]`, applied in order; a read of nil is legal in any state.
public struct MultiRegister: Model {
    /// The registers before any write; keys missing here read as nil.
    public var initialState: [Value: Value]
    /// `multi-register`.
    public var name: String { "multi-register" }

    /// Registers starting at `initial`, e.g. `[.keyword("x"): .int(0)]`.
    public init(initial: [Value: Value]) { initialState = initial }

    /// Applies the micro-operations in order; uses the completion's values when known.
    public func step(_ state: [Value: Value], _ operation: HistoryOperation) -> Step<[Value: Value]> {
        guard let micros = (operation.output ?? operation.input).elements else { return .illegal }
        var next = state
        for micro in micros {
            guard let parts = micro.elements, parts.count == 3 else { return .illegal }
            switch parts[0].keywordName {
            case "read":
                if !parts[2].isNil && parts[2] != (next[parts[1]] ?? .nil) { return .illegal }
            case "write":
                next[parts[1]] = parts[2]
            default:
                return .illegal
            }
        }
        return .legal(next)
    }

    /// Rejects anything but `:txn` of `[:read|:write key value]` triples.
    public func rejection(of operation: HistoryOperation) -> String? {
        guard operation.f == "txn" else { return "a multi-register has only :txn, found :\(operation.f)" }
        for value in [operation.input] + (operation.output.map { [$0] } ?? []) {
            guard let micros = value.elements else { return ":txn value must be a list of micro-operations" }
            for micro in micros {
                guard let parts = micro.elements, parts.count == 3,
                    parts[0].keywordName == "read" || parts[0].keywordName == "write"
                else { return "micro-operation must be [:read k v] or [:write k v], found \(micro)" }
            }
        }
        return nil
    }

    /// `{:x 0, :y 2}`.
    public func describe(state: [Value: Value]) -> String { EDNWriter.write(.map(state)) }
}
