import Raft

/// Where a peer listens for other members.
public struct PeerAddress: Sendable, Hashable, CustomStringConvertible {
    /// Host name or IP address.
    public var host: String
    /// TCP port.
    public var port: Int

    /// Creates an address.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host:port`.
    public var description: String { "\(host):\(port)" }
}

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
    /// How long an accepted connection may stay silent before sending its handshake.
    public var handshakeTimeout: Duration = .seconds(5)
    /// Interval of round-trip probes on each outbound connection.
    public var pingInterval: Duration = .seconds(1)
    /// A connection that has answered no probe for this long is closed and redialled.
    public var pongTimeout: Duration = .seconds(10)
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
        precondition(snapshotChunkBytes > 0 && snapshotChunkBytes <= PeerSender.messageBytesMax,
                     "snapshotChunkBytes must fit a frame")
        precondition(reconnectDelayBase > .zero && reconnectDelayBase <= reconnectDelayMax,
                     "reconnect delays must satisfy 0 < base <= max")
        precondition(pingInterval > .zero && pongTimeout > pingInterval, "pongTimeout must exceed pingInterval")
        precondition(eventsBufferedMax > 0, "eventsBufferedMax must be positive")
    }
}

/// A snapshot of the transport's counters, for tests and status pages.
public struct TransportStats: Sendable, Hashable {
    /// Counters per peer (peers that were ever configured or connected to us).
    public var peers: [NodeID: PeerStats] = [:]
    /// Events dropped because the consumer of ``TCPPeerTransport/events`` fell behind.
    public var eventsDropped: UInt64 = 0

    /// Peers whose outbound connection has completed its handshake and answered a probe.
    public var connectedPeers: Set<NodeID> { Set(peers.filter { $0.value.connected }.keys) }
}

/// Counters for one peer.
public struct PeerStats: Sendable, Hashable {
    /// Frame bytes written to the peer (all frame kinds).
    public var sentBytes: UInt64 = 0
    /// Frame bytes read from the peer's connections to us.
    public var receivedBytes: UInt64 = 0
    /// Messages written to the peer.
    public var messagesSent: UInt64 = 0
    /// Message frames written (a frame may carry several messages: batching).
    public var messageFramesSent: UInt64 = 0
    /// Snapshot image chunk frames written (a snapshot is a begin frame plus these).
    public var snapshotChunksSent: UInt64 = 0
    /// Messages received from the peer.
    public var messagesReceived: UInt64 = 0
    /// Messages for the peer dropped: queue full, too large, peer unknown or removed.
    public var messagesDropped: UInt64 = 0
    /// Whether our outbound connection is up and answered a probe.
    public var connected = false
    /// Outbound connections established (handshake written).
    public var connectionsOpened: UInt64 = 0
    /// The last measured round-trip time of a probe.
    public var lastRoundTrip: Duration?

    /// Zero counters.
    public init() {}
}
