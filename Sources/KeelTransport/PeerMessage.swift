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

    /// The sender of the message.
    public var from: NodeID {
        switch self {
        case .raft(let message): message.from
        case .proposal(let proposal): proposal.from
        case .proposalRejected(let rejection): rejection.from
        }
    }

    /// The node the message is for.
    public var to: NodeID {
        switch self {
        case .raft(let message): message.to
        case .proposal(let proposal): proposal.to
        case .proposalRejected(let rejection): rejection.to
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
}
