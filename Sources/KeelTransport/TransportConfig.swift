import Raft

/// The limits and timings of a ``TCPPeerTransport``. Every queue, batch and retry is bounded here.
public struct TransportConfig: Sendable {
    /// Messages waiting for one peer; beyond it new messages are dropped (Raft retries).
    public var sendQueueMessagesMax = 4096
    /// Encoded bytes waiting for one peer (snapshot images not counted: see
    /// ``snapshotsQueuedMax``); beyond it new messages are dropped.
    public var sendQueueBytesMax = 32 << 20
    /// Snapshot messages waiting for one peer. Raft sends one at a time per follower.
    public var snapshotsQueuedMax = 2
    /// Payload bytes one message frame aims at: messages are packed into a frame until it would
    /// exceed this (a single bigger message still gets its own frame).
    public var batchBytesMax = 1 << 20
    /// Messages in one frame.
    public var batchMessagesMax = 1024
    /// Image bytes per snapshot chunk frame.
    public var snapshotChunkBytes = 512 << 10
    /// The largest snapshot image a receiver reassembles; a bigger one closes the connection.
    public var snapshotBytesMax = 4 << 30
    /// First delay before reconnecting to a peer; doubled on each further failure.
    public var reconnectDelayBase: Duration = .milliseconds(100)
    /// Ceiling of the reconnect delay (before jitter, which picks uniformly in [delay/2, delay]).
    public var reconnectDelayMax: Duration = .seconds(5)
    /// How long one TCP connect may take.
    public var connectTimeout: Duration = .seconds(3)
    /// Connections peers may hold open to us at once (each member needs one); beyond it new
    /// ones are closed at once, so a connection flood cannot exhaust descriptors or memory.
    public var inboundConnectionsMax = 256
    /// How long an accepted connection may stay silent before sending its handshake.
    public var handshakeTimeout: Duration = .seconds(5)
    /// Interval of round-trip probes on each outbound connection.
    public var pingInterval: Duration = .seconds(1)
    /// A connection that has answered no probe for this long is closed and redialled.
    public var pongTimeout: Duration = .seconds(10)
    /// Shortest time between two ``PeerEvent/unreachable(_:)`` reports for the same peer.
    public var unreachableReportInterval: Duration = .milliseconds(100)
    /// Events buffered for the consumer of ``TCPPeerTransport/events``; beyond it events are
    /// dropped and counted.
    public var eventsBufferedMax = 16384

    /// The defaults.
    public init() {}

    /// Checks that the limits are usable; a programmer error otherwise.
    func validate() {
        precondition(sendQueueMessagesMax > 0, "sendQueueMessagesMax must be positive")
        precondition(sendQueueBytesMax > 0, "sendQueueBytesMax must be positive")
        precondition(snapshotsQueuedMax > 0, "snapshotsQueuedMax must be positive")
        precondition(batchBytesMax > 0 && batchBytesMax <= PeerSender.messageBytesMax, "batchBytesMax must fit a frame")
        precondition(batchMessagesMax > 0, "batchMessagesMax must be positive")
        precondition(snapshotChunkBytes > 0
                     && snapshotChunkBytes <= PeerSender.messageBytesMax - PeerSender.snapshotFrameOverheadBytes,
                     "snapshotChunkBytes must fit a frame")
        precondition(reconnectDelayBase > .zero && reconnectDelayBase <= reconnectDelayMax,
                     "reconnect delays must satisfy 0 < base <= max")
        precondition(pingInterval > .zero && pongTimeout > pingInterval, "pongTimeout must exceed pingInterval")
        precondition(eventsBufferedMax > 0, "eventsBufferedMax must be positive")
        precondition(inboundConnectionsMax > 0, "inboundConnectionsMax must be positive")
    }
}
