/// Who performed an operation: a client process or the fault injector.
public enum ProcessID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// A client, numbered as Jepsen numbers them (a crashed client comes back with a new number).
    case client(Int)
    /// Jepsen's `:nemesis`, which injects faults; its events are not checked.
    case nemesis

    /// `7` or `nemesis`.
    public var description: String {
        switch self {
        case .client(let number): return String(number)
        case .nemesis: return "nemesis"
        }
    }
}

/// The four event types of a Jepsen history.
public enum OperationType: String, Hashable, Sendable, CaseIterable {
    /// The client started the operation.
    case invoke
    /// The operation took effect; `value` holds its result.
    case ok
    /// The operation certainly did not take effect.
    case fail
    /// Unknown: it may take effect at any time after its invocation, or never.
    case info
}

/// One line (event) of a Jepsen history, as recorded.
public struct Operation: Hashable, Sendable {
    /// Who did it.
    public var process: ProcessID
    /// Invocation or which kind of completion.
    public var type: OperationType
    /// The function, e.g. `read`, `write`, `cas`, `txn` (a keyword in EDN, stored without colon).
    public var f: String
    /// The argument (on invoke) or the result (on completion).
    public var value: Value
    /// Nanoseconds since the test began, when recorded.
    public var time: Int?
    /// Jepsen's own event index, when recorded.
    public var index: Int?
    /// Jepsen's `:error` field, when present.
    public var error: Value?
    /// The 1-based line where the event starts in its file (0 if built in code); not part of equality.
    public var line: Int

    /// Makes an event; `line` is only for error messages.
    public init(
        process: ProcessID, type: OperationType, f: String, value: Value = .nil,
        time: Int? = nil, index: Int? = nil, error: Value? = nil, line: Int = 0
    ) {
        self.process = process
        self.type = type
        self.f = f
        self.value = value
        self.time = time
        self.index = index
        self.error = error
        self.line = line
    }

    /// Equality ignores `line`, so a history written and read back equals the original.
    public static func == (lhs: Operation, rhs: Operation) -> Bool {
        lhs.process == rhs.process && lhs.type == rhs.type && lhs.f == rhs.f && lhs.value == rhs.value
            && lhs.time == rhs.time && lhs.index == rhs.index && lhs.error == rhs.error
    }

    /// Hashes the fields that `==` compares.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(process)
        hasher.combine(type)
        hasher.combine(f)
        hasher.combine(value)
        hasher.combine(time)
        hasher.combine(index)
        hasher.combine(error)
    }
}
