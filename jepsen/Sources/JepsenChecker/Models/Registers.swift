/// Knossos's CAS register: `read`, `write v`, `cas [old new]`, where an `:ok` read of nil is legal
/// in any state (Knossos treats a nil read as "saw nothing useful").
public struct CASRegister: Model {
    /// The value before any write; Knossos's fixtures use 0.
    public var initialState: Value
    /// `cas-register`.
    public var name: String { "cas-register" }

    /// A register starting at `initial`.
    public init(initial: Value) { initialState = initial }

    /// Applies read/write/cas; an `:ok` read of nil is always legal.
    public func step(_ state: Value, _ operation: HistoryOperation) -> Step<Value> {
        RegisterRules.step(state, operation, nilReadMatchesAnything: true)
    }

    /// Rejects functions other than read/write/cas and malformed cas values.
    public func rejection(of operation: HistoryOperation) -> String? { RegisterRules.rejection(of: operation) }

    /// The value as EDN.
    public func describe(state: Value) -> String { EDNWriter.write(state) }

    /// `read → 3`, `write 3`, `cas 1→2`.
    public func describe(operation: HistoryOperation) -> String { RegisterRules.describe(operation) }
}

/// A register where nil means the key is absent: a read of nil is legal only while nothing is written
/// (what Keel's own register workload needs, since a missing key reads as nil).
public struct NilRegister: Model {
    /// The value before any write; `.nil` for a key that does not exist yet.
    public var initialState: Value
    /// `register`.
    public var name: String { "register" }

    /// A register starting at `initial` (often `.nil`).
    public init(initial: Value) { initialState = initial }

    /// Applies read/write/cas; a read of nil must match an absent value.
    public func step(_ state: Value, _ operation: HistoryOperation) -> Step<Value> {
        RegisterRules.step(state, operation, nilReadMatchesAnything: false)
    }

    /// Rejects functions other than read/write/cas and malformed cas values.
    public func rejection(of operation: HistoryOperation) -> String? { RegisterRules.rejection(of: operation) }

    /// The value as EDN, or `absent`.
    public func describe(state: Value) -> String { state.isNil ? "absent" : EDNWriter.write(state) }

    /// `read → 3`, `write 3`, `cas 1→2`.
    public func describe(operation: HistoryOperation) -> String { RegisterRules.describe(operation) }
}

/// The rules the two registers share.
enum RegisterRules {
    static func step(_ state: Value, _ operation: HistoryOperation, nilReadMatchesAnything: Bool) -> Step<Value> {
        switch operation.f {
        case "read":
            guard let seen = operation.output else { return .legal(state) }
            if seen.isNil && nilReadMatchesAnything { return .legal(state) }
            return seen == state ? .legal(state) : .illegal
        case "write":
            return .legal(operation.input)
        case "cas":
            guard let pair = operation.input.elements, pair.count == 2 else { return .illegal }
            return pair[0] == state ? .legal(pair[1]) : .illegal
        default:
            return .illegal
        }
    }

    static func describe(_ operation: HistoryOperation) -> String {
        let unknown = operation.output == nil ? " (result unknown)" : ""
        switch operation.f {
        case "read": return "read → " + (operation.output.map { EDNWriter.write($0) } ?? "?")
        case "write": return "write \(EDNWriter.write(operation.input))" + unknown
        case "cas":
            guard let pair = operation.input.elements, pair.count == 2 else { return "cas ?" }
            return "cas \(EDNWriter.write(pair[0]))→\(EDNWriter.write(pair[1]))" + unknown
        default: return operation.f
        }
    }

    static func rejection(of operation: HistoryOperation) -> String? {
        switch operation.f {
        case "read", "write": return nil
        case "cas":
            guard let pair = operation.input.elements, pair.count == 2 else {
                return "cas needs [old new], found \(operation.input)"
            }
            return nil
        default:
            return "a register has no :\(operation.f) (expected :read, :write or :cas)"
        }
    }
}
