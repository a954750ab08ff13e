import KeelStorage
import Raft

/// A failure, with etcd's text where etcd has one. The server maps `code` to a gRPC status.
public struct KeelError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure.
    public enum Code: Sendable, Hashable {
        /// No leader, no quorum, or stopping ("etcdserver: no leader", "etcdserver: request timed out").
        case unavailable
        /// Too many requests waiting ("etcdserver: too many requests").
        case resourceExhausted
        /// A bad request ("etcdserver: key is not provided", "etcdserver: request is too large", ...).
        case invalidArgument
        /// A revision outside what the store holds ("etcdserver: mvcc: required revision has been compacted").
        case outOfRange
        /// The caller's deadline passed before the request was sent anywhere.
        case deadlineExceeded
        /// A leader accepted the proposal but its fate is unknown (leader lost, deadline passed).
        case unknownOutcome
        /// The node cannot start as configured (for example a data directory of another cluster).
        case failedPrecondition
        /// Something named does not exist (for example a lease).
        case notFound
        /// A failure of the node itself (storage).
        case `internal`
    }

    /// What kind of failure.
    public var code: Code
    /// What went wrong, in etcd's words where etcd has them.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`.
    public var description: String { "\(code): \(message)" }

    static let noLeader = KeelError(.unavailable, "etcdserver: no leader")
    static let stopped = KeelError(.unavailable, "etcdserver: server stopped")
    /// A write already handed to a leader when this node stopped: the leader may still commit it.
    static let stoppedOutcomeUnknown = KeelError(.unknownOutcome, "etcdserver: server stopped; the request may still be applied")
    static let tooManyRequests = KeelError(.resourceExhausted, "etcdserver: too many requests")
    static let timedOut = KeelError(.unknownOutcome, "etcdserver: request timed out")
    static let timedOutLeaderLost = KeelError(
        .unknownOutcome, "etcdserver: request timed out, possibly due to previous leader failure")
    static let readTimedOut = KeelError(.unavailable, "etcdserver: request timed out")
    static let leaderChanged = KeelError(.unavailable, "etcdserver: leader changed")
    static let leaseNotFound = KeelError(.notFound, "etcdserver: requested lease not found")
    static let emptyKey = KeelError(.invalidArgument, "etcdserver: key is not provided")
    static let requestTooLarge = KeelError(.invalidArgument, "etcdserver: request is too large")
    static let tooManyOps = KeelError(.invalidArgument, "etcdserver: too many operations in txn request")
    static let compacted = KeelError(.outOfRange, "etcdserver: mvcc: required revision has been compacted")
    /// etcd's ErrGRPCNoSpace: a write that grows the store while NOSPACE is raised.
    static let noSpace = KeelError(.resourceExhausted, "etcdserver: mvcc: database space exceeded")
    /// etcd's ErrGRPCNotLeader: MoveLeader sent to a member that does not lead.
    static let notLeader = KeelError(.failedPrecondition, "etcdserver: not leader")
    /// etcd's ErrGRPCBadLeaderTransferee: the target is not a voting member.
    static let badLeaderTransferee = KeelError(.failedPrecondition, "etcdserver: bad leader transferee")
    /// etcd's ErrGRPCTimeoutLeaderTransfer.
    static let leaderTransferTimedOut = KeelError(.deadlineExceeded, "etcdserver: request timed out, leader transfer took too long")
    static let futureRevision = KeelError(.outOfRange, "etcdserver: mvcc: required revision is a future revision")
}

/// etcd's ResponseHeader.
public struct ResponseHeader: Sendable, Hashable {
    /// The cluster's id.
    public var clusterID: UInt64
    /// The id of the member that answered.
    public var memberID: UInt64
    /// The store's revision when the request was served.
    public var revision: Int64
    /// The member's Raft term.
    public var raftTerm: UInt64

    /// Creates a header.
    public init(clusterID: UInt64, memberID: UInt64, revision: Int64, raftTerm: UInt64) {
        self.clusterID = clusterID
        self.memberID = memberID
        self.revision = revision
        self.raftTerm = raftTerm
    }
}

/// What etcd's Maintenance.Status reports.
public struct NodeStatus: Sendable, Hashable {
    /// The header (revision, term...).
    public var header: ResponseHeader
    /// The leader this node knows, ``Raft/NodeID/none`` when unknown.
    public var leader: NodeID
    /// The last log index.
    public var raftIndex: UInt64
    /// The current term.
    public var raftTerm: UInt64
    /// The last index applied to the state machine.
    public var raftAppliedIndex: UInt64
    /// The commit index.
    public var commitIndex: UInt64
    /// The size of the database files, best effort.
    public var dbSizeBytes: Int64
    /// Whether this node is a learner.
    public var isLearner: Bool
    /// etcd's StatusResponse.errors, for example ["etcdserver: no leader"].
    public var errors: [String]
    /// The alarms raised in the cluster, as this member applied them (etcd lists them in errors).
    public var alarms: [AlarmMember]
    /// The server's version.
    public var version: String
}
