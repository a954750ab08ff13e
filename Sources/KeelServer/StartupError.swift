/// Why kvd could not start: one line for the operator (a port in use, a data directory of
/// another cluster, a bad configuration).
public struct StartupError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, naming the flag, URL or directory at fault.
    public var message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
