/// The shipped models by name, for the command line and other callers that choose at run time.
public enum ModelCatalog {
    /// The base names `check(_:model:initial:timeLimit:)` accepts; each may also be prefixed with
    /// `independent-` (values are `[key value]` tuples, one model per key, see `Independent`).
    public static let names = ["cas-register", "register", "multi-register", "mutex", "set", "kv"]

    /// The prefix that wraps a model in `Independent`.
    public static let independentPrefix = "independent-"

    /// Checks `history` against the model called `name`, starting from `initial` (nil: the model's
    /// usual start: 0 for `cas-register`, absent for `register` and `kv`, empty for the others).
    public static func check(
        _ history: History, model name: String, initial: Value?, timeLimit: Duration?
    ) throws(HistoryError) -> CheckResult {
        let independent = name.hasPrefix(independentPrefix)
        let baseName = independent ? String(name.dropFirst(independentPrefix.count)) : name
        func run<M: Model>(_ model: M) throws(HistoryError) -> CheckResult {
            if independent { return try Checker.check(history, model: Independent(model), timeLimit: timeLimit) }
            return try Checker.check(history, model: model, timeLimit: timeLimit)
        }
        switch baseName {
        case "cas-register":
            return try run(CASRegister(initial: initial ?? .int(0)))
        case "register":
            return try run(NilRegister(initial: initial ?? .nil))
        case "multi-register":
            var registers: [Value: Value] = [:]
            switch initial {
            case .map(let map)?: registers = map
            case nil, .nil?: break
            case let other?: throw invalidInitial("multi-register needs a map like {:x 0 :y 0}, found \(other)")
            }
            return try run(MultiRegister(initial: registers))
        case "mutex":
            switch initial {
            case nil, .nil?, .bool(false)?: return try run(MutexModel())
            case .bool(true)?: return try run(MutexModel(held: true))
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
            return try run(SetModel(initial: elements))
        case "kv":
            return try run(KeyValueMap(initial: initial ?? .nil))
        default:
            throw HistoryError(
                code: .badModelInput,
                message: "unknown model '\(name)' (known: \(names.joined(separator: ", ")), each optionally "
                    + "prefixed with '\(independentPrefix)')", line: nil)
        }
    }

    private static func invalidInitial(_ message: String) -> HistoryError {
        HistoryError(code: .badModelInput, message: "bad initial value: " + message, line: nil)
    }
}
