/// The shipped models by name, for the command line and other callers that choose at run time.
public enum ModelCatalog {
    /// The names `check(_:model:initial:timeLimit:)` accepts.
    public static let names = ["cas-register", "register", "multi-register", "mutex", "set", "kv"]

    /// Checks `history` against the model called `name`, starting from `initial` (nil: the model's
    /// usual start: 0 for `cas-register`, absent for `register` and `kv`, empty for the others).
    public static func check(
        _ history: History, model name: String, initial: Value?, timeLimit: Duration?
    ) throws(HistoryError) -> CheckResult {
        switch name {
        case "cas-register":
            return try Checker.check(history, model: CASRegister(initial: initial ?? .int(0)), timeLimit: timeLimit)
        case "register":
            return try Checker.check(history, model: NilRegister(initial: initial ?? .nil), timeLimit: timeLimit)
        case "multi-register":
            var registers: [Value: Value] = [:]
            switch initial {
            case .map(let map)?: registers = map
            case nil, .nil?: break
            case let other?: throw invalidInitial("multi-register needs a map like {:x 0 :y 0}, found \(other)")
            }
            return try Checker.check(history, model: MultiRegister(initial: registers), timeLimit: timeLimit)
        case "mutex":
            switch initial {
            case nil, .nil?, .bool(false)?: return try Checker.check(history, model: MutexModel(), timeLimit: timeLimit)
            case .bool(true)?: return try Checker.check(history, model: MutexModel(held: true), timeLimit: timeLimit)
            case let other?: throw invalidInitial("mutex needs true (held) or false (free), found \(other)")
            }
        case "set":
            var elements: Set<Value> = []
            switch initial {
            case .set(let items)?: elements = items
            case .vector(let items)?, .list(let items)?: elements = Set(items)
            case nil, .nil?: break
            case let other?: throw invalidInitial("set needs a collection, found \(other)")
            }
            return try Checker.check(history, model: SetModel(initial: elements), timeLimit: timeLimit)
        case "kv":
            return try Checker.check(history, model: KeyValueMap(initial: initial ?? .nil), timeLimit: timeLimit)
        default:
            throw HistoryError(
                code: .badModelInput,
                message: "unknown model '\(name)' (known: \(names.joined(separator: ", ")))", line: nil)
        }
    }

    private static func invalidInitial(_ message: String) -> HistoryError {
        HistoryError(code: .badModelInput, message: "bad initial value: " + message, line: nil)
    }
}
