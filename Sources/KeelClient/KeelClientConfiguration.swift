import Logging

/// How a ``KeelClient`` reaches the cluster and how long it waits.
public struct KeelClientConfiguration: Sendable {
    /// The servers to try, in order of preference. At least one.
    public var endpoints: [Endpoint]
    /// How long one endpoint may take to open a connection before the client passes to the next
    /// (etcdctl's `--dial-timeout`, 2 s by default).
    public var dialTimeout: Duration
    /// How long one call may take in all, over every endpoint it tries (etcdctl's `--command-timeout`,
    /// 5 s by default).
    public var commandTimeout: Duration
    /// The largest key-value request (Range, Put, DeleteRange, Txn) the client sends; a larger one fails at once with
    /// `resourceExhausted`, as in etcd's client. It sits 512 KiB above the server's default request
    /// limit (1.5 MiB), exactly where the server's gRPC layer stops reading, so a value between the
    /// two gets the server's "request is too large" and a larger one never leaves the client (the
    /// server would reset the stream, which reads as Unavailable). Raise both together.
    public var requestMessageBytesMax: Int
    /// The largest response message the client accepts: a large range answer must fit.
    public var responseMessageBytesMax: Int
    /// Where the client says what it does (endpoints passed over, circuit breakers opening and
    /// closing, watches resuming), at `info` and below. Discards everything by default.
    public var logger: Logger
    /// TLS for the endpoints that use it (``Endpoint/usesTLS``); nil: those use the system's
    /// roots and present no certificate.
    public var tls: KeelClientTLS?

    /// etcdctl's dial timeout.
    public static let dialTimeoutDefault: Duration = .seconds(2)
    /// etcdctl's command timeout.
    public static let commandTimeoutDefault: Duration = .seconds(5)
    /// 2 MiB: etcd's client default (`MaxCallSendMsgSize`), and kvd's default `--max-request-bytes`
    /// plus the 512 KiB it allows for framing.
    public static let requestMessageBytesMaxDefault = 2 << 20
    /// 256 MiB.
    public static let responseMessageBytesMaxDefault = 256 << 20

    /// Creates a configuration; the limits default to etcdctl's.
    public init(
        endpoints: [Endpoint],
        dialTimeout: Duration = Self.dialTimeoutDefault,
        commandTimeout: Duration = Self.commandTimeoutDefault,
        requestMessageBytesMax: Int = Self.requestMessageBytesMaxDefault,
        responseMessageBytesMax: Int = Self.responseMessageBytesMaxDefault,
        logger: Logger = Logger(label: "keel.client", factory: { _ in SwiftLogNoOpLogHandler() }),
        tls: KeelClientTLS? = nil
    ) {
        precondition(!endpoints.isEmpty, "a client needs at least one endpoint")
        precondition(dialTimeout > .zero, "the dial timeout must be positive")
        precondition(commandTimeout > .zero, "the command timeout must be positive")
        precondition(requestMessageBytesMax > 0, "the request message limit must be positive")
        precondition(responseMessageBytesMax > 0, "the response message limit must be positive")
        self.endpoints = endpoints
        self.dialTimeout = dialTimeout
        self.commandTimeout = commandTimeout
        self.requestMessageBytesMax = requestMessageBytesMax
        self.responseMessageBytesMax = responseMessageBytesMax
        self.logger = logger
        self.tls = tls
    }
}
