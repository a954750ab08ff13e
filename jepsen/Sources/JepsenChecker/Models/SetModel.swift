/// A grow-only set: `add v`, and `read` which returns every element.
public struct SetModel: Model {
    /// The elements before any add.
    public var initialState: Set<Value>
    /// `set`.
    public var name: String { "set" }

    /// A set starting with `initial`.
    public init(initial: Set<Value> = []) { initialState = initial }

    /// Add inserts; a read must see exactly the current elements.
    public func step(_ state: Set<Value>, _ operation: HistoryOperation) -> Step<Set<Value>> {
        switch operation.f {
        case "add":
            var next = state
            next.insert(operation.input)
            return .legal(next)
        case "read":
            guard let seen = operation.output else { return .legal(state) }
            return Self.elements(of: seen) == state ? .legal(state) : .illegal
        default:
            return .illegal
        }
    }

    /// Rejects anything but add and read, and reads that return no collection.
    public func rejection(of operation: HistoryOperation) -> String? {
        switch operation.f {
        case "add": return nil
        case "read":
            if let seen = operation.output, Self.elements(of: seen) == nil {
                return "a set read must return a collection, found \(seen)"
            }
            return nil
        default: return "a set has only :add and :read, found :\(operation.f)"
        }
    }

    /// `#{1, 2}`.
    public func describe(state: Set<Value>) -> String { EDNWriter.write(.set(state)) }

    private static func elements(of value: Value) -> Set<Value>? {
        switch value {
        case .set(let items): return items
        case .vector(let items), .list(let items): return Set(items)
        case .nil: return []
        default: return nil
        }
    }
}
