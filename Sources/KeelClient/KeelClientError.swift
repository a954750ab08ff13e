public import GRPCCore

/// A failed client call: the gRPC status code, the server's message (etcd's own text such as
/// "etcdserver: mvcc: required revision has been compacted" when the server sent one), and the
/// endpoint that gave the final answer.
public struct KeelClientError: Error, CustomStringConvertible, Sendable {
    /// The gRPC status code. Calls that reached no server end in `unavailable` (every endpoint
    /// refused or timed out while dialling) or `deadlineExceeded` (the command timeout passed).
    public var code: RPCError.Code
    /// The server's message, or the client's account of what went wrong when no server answered.
    public var message: String
    /// The endpoint whose answer this is; nil when the failure was not tied to one endpoint.
    public var endpoint: Endpoint?
    /// Every endpoint tried, in order, with why it was passed over; empty when the first one answered.
    public var attempts: [Attempt]
    /// Whether the request may have reached a server. False only when it certainly did not (no
    /// connection, or refused before sending): then a write certainly was not applied. A test
    /// harness records such a write as failed, any other as of unknown outcome.
    public var mayHaveReachedServer: Bool

    /// One endpoint that was tried and passed over.
    public struct Attempt: Sendable, CustomStringConvertible {
        /// The endpoint tried.
        public var endpoint: Endpoint
        /// The gRPC code it failed with.
        public var code: RPCError.Code
        /// Why it was passed over.
        public var message: String

        /// `<endpoint>: <message>`.
        public var description: String { "\(endpoint): \(message)" }
    }

    /// Creates an error; unless told otherwise it assumes the request may have reached a server.
    public init(
        code: RPCError.Code, message: String, endpoint: Endpoint? = nil, attempts: [Attempt] = [],
        mayHaveReachedServer: Bool = true
    ) {
        self.code = code
        self.message = message
        self.endpoint = endpoint
        self.attempts = attempts
        self.mayHaveReachedServer = mayHaveReachedServer
    }

    /// The message alone.
    public var description: String { message }

    /// The error as etcdctl prints it after "Error: ". etcd's client turns the server's own errors
    /// ("etcdserver: …") into their text, and leaves any other gRPC status (an oversized request, an
    /// unimplemented service, an internal error) in grpc-go's form, "rpc error: code = … desc = …".
    /// Timeouts, cancellations and unreachable endpoints are this client's own account and stay text.
    public var etcdctlDescription: String {
        if message.hasPrefix("etcdserver: ") || [.deadlineExceeded, .cancelled, .unavailable].contains(code) {
            return message
        }
        return "rpc error: code = \(Self.goName(code)) desc = \(message)"
    }

    /// grpc-go's name of a status code (`codes.Code.String()`).
    static func goName(_ code: RPCError.Code) -> String {
        switch code {
        case .cancelled: "Canceled"
        case .unknown: "Unknown"
        case .invalidArgument: "InvalidArgument"
        case .deadlineExceeded: "DeadlineExceeded"
        case .notFound: "NotFound"
        case .alreadyExists: "AlreadyExists"
        case .permissionDenied: "PermissionDenied"
        case .resourceExhausted: "ResourceExhausted"
        case .failedPrecondition: "FailedPrecondition"
        case .aborted: "Aborted"
        case .outOfRange: "OutOfRange"
        case .unimplemented: "Unimplemented"
        case .internalError: "Internal"
        case .unavailable: "Unavailable"
        case .dataLoss: "DataLoss"
        case .unauthenticated: "Unauthenticated"
        default: "Code(\(code.rawValue))"
        }
    }
}
