/// A history that cannot be read or makes no sense (for example two open operations on one process).
///
/// `line` points at the offending line of the input (1-based) so a person can go and look.
public struct HistoryError: Error, Equatable, CustomStringConvertible {
    /// Which kind of problem this is; compare against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// The text is not valid EDN or JSON.
        public static let syntax = Code("syntax")
        /// An operation lacks a field or has one of the wrong kind.
        public static let badOperation = Code("bad-operation")
        /// The operations do not pair up as Jepsen's semantics require.
        public static let badPairing = Code("bad-pairing")
        /// The model cannot interpret an operation (unknown `:f` or value shape).
        public static let badModelInput = Code("bad-model-input")
        /// The short name, e.g. `syntax`.
        public var description: String { name }
    }

    /// Which kind of problem this is.
    public var code: Code
    /// What is wrong, in words.
    public var message: String
    /// The 1-based line of the input where the problem is, when known.
    public var line: Int?

    /// Makes an error; `line` is 1-based.
    public init(code: Code, message: String, line: Int?) {
        self.code = code
        self.message = message
        self.line = line
    }

    /// `line N: message`, the form printed on stderr.
    public var description: String {
        if let line { return "line \(line): \(message)" }
        return message
    }
}
