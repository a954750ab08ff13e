import Raft

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
