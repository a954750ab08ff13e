import Raft

/// One unit the peer transport carries between two nodes of a cluster.
///
/// Raft's own messages travel as ``raft(_:)``. The other cases are the host's: a follower cannot
/// propose to the Raft core (only the leader can), so it forwards a client's write to the leader,
/// which proposes it and answers only when it refuses. The follower learns the outcome by applying
/// the committed entry itself, as every replica does.
public enum PeerMessage: Sendable, Hashable {
    /// A Raft message (appends, votes, heartbeats, snapshots, read-index requests...).
    case raft(Message)
    /// A follower asks the leader to propose `data` on its behalf.
    case proposal(ForwardedProposal)
    /// The leader could not propose a forwarded proposal; the waiting client fails fast.
    case proposalRejected(ProposalRejection)
    /// A follower asks the leader, which alone keeps leases' timers, to renew a lease or tell its
    /// remaining time-to-live.
    case leaseRequest(LeaseRequest)
    /// The leader's answer to a ``LeaseRequest``.
    case leaseAnswer(LeaseAnswer)

    /// The sender of the message.
    public var from: NodeID {
        switch self {
        case .raft(let message): message.from
        case .proposal(let proposal): proposal.from
        case .proposalRejected(let rejection): rejection.from
        case .leaseRequest(let request): request.from
        case .leaseAnswer(let answer): answer.from
        }
    }

    /// The node the message is for.
    public var to: NodeID {
        switch self {
        case .raft(let message): message.to
        case .proposal(let proposal): proposal.to
        case .proposalRejected(let rejection): rejection.to
        case .leaseRequest(let request): request.to
        case .leaseAnswer(let answer): answer.to
        }
    }
}

/// A client write that a follower forwards to the leader.
public struct ForwardedProposal: Sendable, Hashable {
    /// The follower that forwards it (and holds the waiting client).
    public var from: NodeID
    /// The node the follower believes to be the leader.
    public var to: NodeID
    /// The follower's id for the request, echoed in a rejection.
    public var requestID: UInt64
    /// The entry data to propose, exactly as the follower would have proposed it.
    public var data: [UInt8]

    /// Creates a forwarded proposal.
    public init(from: NodeID, to: NodeID, requestID: UInt64, data: [UInt8]) {
        self.from = from
        self.to = to
        self.requestID = requestID
        self.data = data
    }
}

/// The leader's refusal of a forwarded proposal.
public struct ProposalRejection: Sendable, Hashable {
    /// Why the proposal was refused.
    public enum Reason: UInt8, Sendable, Hashable {
        /// The receiver is not the leader (`leader` may name the one it knows).
        case notLeader = 1
        /// The leader's queue of uncommitted proposals is full.
        case overloaded = 2
        /// Anything else; `message` says what.
        case other = 3
    }

    /// The node that refused (the supposed leader).
    public var from: NodeID
    /// The follower that forwarded the proposal.
    public var to: NodeID
    /// The follower's request id from ``ForwardedProposal/requestID``.
    public var requestID: UInt64
    /// Why.
    public var reason: Reason
    /// The leader the refusing node knows of, or ``NodeID/none`` if it knows none.
    public var leader: NodeID
    /// A human-readable explanation.
    public var message: String

    /// Creates a rejection.
    public init(from: NodeID, to: NodeID, requestID: UInt64, reason: Reason, leader: NodeID, message: String) {
        self.from = from
        self.to = to
        self.requestID = requestID
        self.reason = reason
        self.leader = leader
        self.message = message
    }
}

/// A lease operation only the leader can answer, forwarded by a follower.
public struct LeaseRequest: Sendable, Hashable {
    /// What is asked.
    public enum Kind: UInt8, Sendable, Hashable {
        /// Renew the lease (a keepalive) and answer its TTL.
        case renew = 1
        /// Answer the lease's granted and remaining time-to-live.
        case timeToLive = 2
    }

    /// The follower holding the waiting client.
    public var from: NodeID
    /// The node the follower believes leads.
    public var to: NodeID
    /// The follower's id for the request, echoed in the answer.
    public var requestID: UInt64
    /// What is asked.
    public var kind: Kind
    /// The lease.
    public var leaseID: Int64

    /// Creates a request.
    public init(from: NodeID, to: NodeID, requestID: UInt64, kind: Kind, leaseID: Int64) {
        self.from = from
        self.to = to
        self.requestID = requestID
        self.kind = kind
        self.leaseID = leaseID
    }
}

/// The leader's answer to a ``LeaseRequest``.
public struct LeaseAnswer: Sendable, Hashable {
    /// How the request went.
    public enum Status: UInt8, Sendable, Hashable {
        /// Answered: the times are set.
        case ok = 0
        /// No such lease (or it expired).
        case notFound = 1
        /// The receiver does not lead (any more).
        case notLeader = 2
        /// The leader has too many lease requests waiting.
        case overloaded = 3
    }

    /// The leader.
    public var from: NodeID
    /// The follower that asked.
    public var to: NodeID
    /// The follower's request id.
    public var requestID: UInt64
    /// How the request went.
    public var status: Status
    /// The TTL the lease was granted, in seconds.
    public var grantedSeconds: Int64
    /// What is left of it, in milliseconds, as the leader's clock says.
    public var remainingMilliseconds: Int64

    /// Creates an answer.
    public init(from: NodeID, to: NodeID, requestID: UInt64, status: Status, grantedSeconds: Int64, remainingMilliseconds: Int64) {
        self.from = from
        self.to = to
        self.requestID = requestID
        self.status = status
        self.grantedSeconds = grantedSeconds
        self.remainingMilliseconds = remainingMilliseconds
    }
}

/// What a peer network reports to the node that owns it.
public enum PeerEvent: Sendable, Hashable {
    /// A message arrived from a peer.
    case message(PeerMessage)
    /// A message to this peer could not be delivered (connection down or its queue full); the
    /// node tells its Raft core (`reportUnreachable`) so it stops streaming optimistically.
    case unreachable(NodeID)
    /// A Raft snapshot message to this peer was fully written to the connection, or failed
    /// (`reportSnapshot`).
    case snapshotStatus(NodeID, succeeded: Bool)
    /// A peer introduced itself on connecting: its name and the client URLs it serves.
    case peerAttributes(NodeID, MemberAttributes)
}

/// What a member tells its peers about itself when it connects.
public struct MemberAttributes: Sendable, Hashable {
    /// The member's human-readable name (`--name`).
    public var name: String
    /// The URLs where it serves clients (`--advertise-client-urls`).
    public var clientURLs: [String]

    /// Creates attributes.
    public init(name: String, clientURLs: [String]) {
        self.name = name
        self.clientURLs = clientURLs
    }
}

/// The peer network as the node sees it: the TCP transport in production, an in-memory network
/// in the node's own tests.
public protocol PeerNetwork: Sendable {
    /// Queues messages for their destinations and returns at once: it never blocks the caller.
    /// A message that cannot be queued (unknown peer, queue full) is dropped and reported as
    /// ``PeerEvent/unreachable(_:)``; Raft retries. A conforming network never re-sends a message
    /// on its own (after a reconnect, say): a forwarded proposal delivered twice would be proposed,
    /// and applied, twice.
    func send(_ messages: [PeerMessage])
    /// Everything the network reports, in arrival order. Consumed by one task.
    var events: AsyncStream<PeerEvent> { get }
    /// Replaces who the peers are and where they listen (after a membership change).
    func setPeers(_ peers: [NodeID: PeerAddress])
}

extension PeerNetwork {
    /// A network that routes by id alone (a test's, the simulation's) has nothing to update.
    public func setPeers(_ peers: [NodeID: PeerAddress]) {}
}
