import KeelStorage
import KeelTransport
import Raft

/// What a ``NodeMachine`` step asks its driver to do, in this order: send `messages`, answer
/// `replies`, `leaseReplies` and `leaderWaits`, start reading `imageToBuild`. A step never performs I/O itself.
public struct NodeOutput {
    /// Messages to hand to the network now.
    public var messages: [PeerMessage] = []
    /// Requests that have their outcome.
    public var replies: [NodeReply] = []
    /// Requests waiting for a leader: `found` says whether one is known now (false: gave up).
    public var leaderWaits: [(id: UInt64, found: Bool)] = []
    /// Keepalives and time-to-live requests that have their outcome.
    public var leaseReplies: [LeaseReply] = []
    /// Membership changes that have their outcome (applied on this member, or refused).
    public var memberReplies: [(id: UInt64, result: Result<Void, KeelError>)] = []
    /// The members, when they changed: the driver updates where it sends peer messages.
    public var membersChanged: MemberRegistry?
    /// An applied change removed this node: the driver stops serving.
    public var removedSelf = false
    /// An image to read off the storage thread; its result goes to ``NodeMachine/imageBuilt(_:into:)``.
    public var imageToBuild: ImageSource?

    /// Nothing to do.
    public init() {}
}

/// The outcome of one client request.
public struct NodeReply: Sendable {
    /// The request's id (from ``NodeMachine/propose(_:deadline:into:)`` or
    /// ``NodeMachine/startLinearizableRead(_:deadline:into:)``).
    public var id: UInt64
    /// The response, or why there is none. A write's `.unknownOutcome` error means it may still apply.
    public var result: Result<KVResponse, KeelError>
}

/// One Ready handed to the driver: send `early` at once, run `work` on the store, then hand the
/// outcome to ``NodeMachine/finishReady(_:into:)``, which releases the messages that had to wait.
public struct ReadyStart {
    /// Messages that promise nothing about this node's disk (thesis §10.2.1): sent before `work`.
    public var early: [PeerMessage]
    /// What to persist and apply.
    public var work: ReadyWork
}

/// What the machine remembers about a write it proposed or forwarded.
struct PendingProposal {
    var deadline: Duration
    /// The leader the proposal was handed to: if another leads at the deadline, the old one
    /// probably failed.
    var leader: NodeID
}

/// A linearizable read (a Range, or a Txn that writes nothing): waits for its read index, then for
/// the state machine to reach it.
struct PendingRead {
    var request: KVCommand
    var deadline: Duration
    /// Known once the leader confirmed it (thesis §6.4 step 3).
    var index: LogIndex?
    /// The tick of the last read-index request for it: nothing in the core or the transport re-sends
    /// a lost one, so the node asks again after `readIndexRetryTicks`.
    var askedAtTick: UInt64
    /// Handed to the store in the Ready in flight, which may serve it.
    var inFlight = false
}

/// The Ready being persisted: what its completion releases.
struct ReadyInFlight {
    var ready: Ready
    /// Messages that promise something about this node's disk: sent after the write.
    var late: [PeerMessage]
    /// Peers whose snapshot was held back for want of an image.
    var heldBack: [NodeID]
    /// Reads handed to the store with this Ready.
    var reads: [UInt64]
}
