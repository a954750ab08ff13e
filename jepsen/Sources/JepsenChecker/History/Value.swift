/// A value as it appears in a Jepsen history: the subset of EDN that histories use.
///
/// Vectors and lists stay distinct so that a history written back out looks like the one read in,
/// but models compare them through `elements`, as Clojure treats `[1 2]` and `(1 2)` as equal.
public indirect enum Value: Hashable, Sendable {
    /// EDN `nil`: no value, or (for a read) "saw nothing".
    case `nil`
    /// EDN `true` / `false`.
    case bool(Bool)
    /// An EDN integer.
    case int(Int)
    /// An EDN string.
    case string(String)
    /// An EDN keyword, stored without its leading colon.
    case keyword(String)
    /// An EDN vector `[...]`.
    case vector([Value])
    /// An EDN list `(...)`.
    case list([Value])
    /// An EDN set `#{...}`.
    case set(Set<Value>)
    /// An EDN map `{...}`.
    case map([Value: Value])

    /// The elements of a vector or a list, nil for anything else.
    public var elements: [Value]? {
        switch self {
        case .vector(let items), .list(let items): return items
        default: return nil
        }
    }

    /// The integer payload, nil for anything else.
    public var intValue: Int? {
        if case .int(let number) = self { return number }
        return nil
    }

    /// The keyword name (without colon), nil for anything else.
    public var keywordName: String? {
        if case .keyword(let name) = self { return name }
        return nil
    }

    /// True for `.nil`.
    public var isNil: Bool {
        if case .nil = self { return true }
        return false
    }
}

extension Value: CustomStringConvertible {
    /// The value written as EDN, so reports show what the history file showed.
    public var description: String { EDNWriter.write(self) }
}
