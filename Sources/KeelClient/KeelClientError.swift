public import GRPCCore
public import KeelProto

/// A failed client call: the gRPC status code, the server's message (etcd's own text such as
/// "etcdserver: mvcc: required revision has been compacted" when the server sent one), and the
/// endpoint that gave the final answer.
///
/// Switch on ``kind`` to tell etcd's errors apart without matching text:
///
/// ```swift
/// switch error.kind {
/// case .compacted: restart(from: error.compactRevision ?? 0)
/// case .noLeader, .unknownOutcome: retryLater()
/// default: throw error
/// }
/// ```
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
    /// For ``Kind/compacted``: the oldest revision still kept, when the server said (a watch's
    /// cancellation carries it; a Range's error text does not).
    public var compactRevision: Int64?
    /// For a watch the server ended: its cancelling answer (header, compact revision, reason), as
    /// etcdctl's `-w json` prints it.
    public var watchCancellation: Etcdserverpb_WatchResponse?

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
        mayHaveReachedServer: Bool = true, compactRevision: Int64? = nil
    ) {
        self.code = code
        self.message = message
        self.endpoint = endpoint
        self.attempts = attempts
        self.mayHaveReachedServer = mayHaveReachedServer
        self.compactRevision = compactRevision
    }

    /// What went wrong, for a `switch`; derived from ``code`` and etcd's text in ``message``, so the
    /// text stays as etcd wrote it for display.
    public var kind: Kind { Kind(code: code, message: message) }

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
        return "rpc error: code = \(code.goName) desc = \(message)"
    }

}

extension KeelClientError {
    /// The failures a caller acts on, told apart without matching text. A struct wrapping a
    /// private enum, so kinds can be added without breaking anyone's `switch` (which needs a
    /// `default`).
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case compacted, futureRevision, leaseNotFound, noLeader, leaderChanged, tooManyRequests
            case requestTooLarge, unknownOutcome, deadlineExceeded, unavailable, canceled
            case lockLost, notElectionLeader, electionNoLeader, other
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The revision asked for is older than the compaction: read or watch from a later one.
        public static let compacted = Kind(.compacted)
        /// The revision asked for is not written yet.
        public static let futureRevision = Kind(.futureRevision)
        /// The lease does not exist (expired or revoked).
        public static let leaseNotFound = Kind(.leaseNotFound)
        /// The member has no leader (an election is under way, or it is cut off); nothing was proposed.
        public static let noLeader = Kind(.noLeader)
        /// The leader changed while a forwarded request was in flight.
        public static let leaderChanged = Kind(.leaderChanged)
        /// The server sheds load: too many requests are waiting to be applied.
        public static let tooManyRequests = Kind(.tooManyRequests)
        /// The request is over the server's or the client's size limit.
        public static let requestTooLarge = Kind(.requestTooLarge)
        /// The server timed out a request it had proposed: it may or may not be applied.
        public static let unknownOutcome = Kind(.unknownOutcome)
        /// The command timeout passed (the outcome of a write is unknown unless
        /// ``KeelClientError/mayHaveReachedServer`` is false).
        public static let deadlineExceeded = Kind(.deadlineExceeded)
        /// No endpoint could be reached, or the server is unavailable.
        public static let unavailable = Kind(.unavailable)
        /// The call was cancelled by its caller.
        public static let canceled = Kind(.canceled)
        /// A lock's key vanished (its session's lease expired) before or while it was held.
        public static let lockLost = Kind(.lockLost)
        /// A proclaim or resign by a campaigner that is no longer the election's leader.
        public static let notElectionLeader = Kind(.notElectionLeader)
        /// An election has no leader.
        public static let electionNoLeader = Kind(.electionNoLeader)
        /// Anything else: look at ``KeelClientError/code`` and ``KeelClientError/message``.
        public static let other = Kind(.other)

        /// The kind of an error with this code and server text. This is the one place where
        /// etcd's texts (its `rpctypes` errors) are read.
        init(code: RPCError.Code, message: String) {
            if let known = Self.byMessage[message] {
                self = known
                return
            }
            if message.hasPrefix("trying to send message larger than max") {
                self = .requestTooLarge
                return
            }
            switch code {
            case .deadlineExceeded: self = .deadlineExceeded
            case .unavailable: self = .unavailable
            case .cancelled: self = .canceled
            default: self = .other
            }
        }

        private static let byMessage: [String: Kind] = [
            "etcdserver: mvcc: required revision has been compacted": .compacted,
            "etcdserver: mvcc: required revision is a future revision": .futureRevision,
            KeelClientError.leaseNotFoundMessage: .leaseNotFound,
            "etcdserver: no leader": .noLeader,
            "etcdserver: not leader": .noLeader,
            "etcdserver: leader changed": .leaderChanged,
            "etcdserver: too many requests": .tooManyRequests,
            "etcdserver: request is too large": .requestTooLarge,
            "etcdserver: request timed out": .unknownOutcome,
            "etcdserver: request timed out, possibly due to previous leader failure": .unknownOutcome,
            "etcdserver: request timed out, possibly due to connection lost": .unknownOutcome,
            "etcdserver: request timed out, waiting for the applied index took too long": .unknownOutcome,
            KeelClientError.lockLostMessage: .lockLost,
            KeelClientError.notElectionLeaderMessage: .notElectionLeader,
            KeelClientError.electionNoLeaderMessage: .electionNoLeader,
        ]

        /// The kind's name.
        public var description: String { "\(value)" }
    }

    /// etcd's text for a compacted revision (`rpctypes.ErrCompacted`).
    public static let compactedMessage = "etcdserver: mvcc: required revision has been compacted"
    /// The text of a lock whose key is gone (etcd's `concurrency.ErrSessionExpired` says "session expired").
    public static let lockLostMessage = "session expired: the lock's key is gone"
    /// etcd's `concurrency.ErrElectionNotLeader`.
    public static let notElectionLeaderMessage = "election: not leader"
    /// etcd's `concurrency.ErrElectionNoLeader`.
    public static let electionNoLeaderMessage = "election: no leader"
}
