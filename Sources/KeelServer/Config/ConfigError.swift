/// A configuration kvd refuses, with a message that names the flag or key at fault.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, naming the flag or config key.
    public var message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
