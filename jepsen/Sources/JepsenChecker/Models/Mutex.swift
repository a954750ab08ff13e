/// A lock: `acquire` is legal only when free, `release` only when held.
public struct MutexModel: Model {
    /// Whether the lock starts held.
    public var initialState: Bool
    /// `mutex`.
    public var name: String { "mutex" }

    /// A lock that starts free unless `held`.
    public init(held: Bool = false) { initialState = held }

    /// Acquire needs it free; release needs it held.
    public func step(_ state: Bool, _ operation: HistoryOperation) -> Step<Bool> {
        switch operation.f {
        case "acquire": return state ? .illegal : .legal(true)
        case "release": return state ? .legal(false) : .illegal
        default: return .illegal
        }
    }

    /// Rejects anything but acquire and release.
    public func rejection(of operation: HistoryOperation) -> String? {
        operation.f == "acquire" || operation.f == "release"
            ? nil : "a mutex has only :acquire and :release, found :\(operation.f)"
    }

    /// `held` or `free`.
    public func describe(state: Bool) -> String { state ? "held" : "free" }
}
