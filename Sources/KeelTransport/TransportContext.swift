import Logging
import NIOCore
import Metrics
import Raft
import Synchronization

/// What the transport's parts share: identity, configuration, the event stream, counters and
/// metrics. Thread-safe: every mutable part is behind a `Mutex`.
final class TransportContext: Sendable {
    let selfID: NodeID
    let clusterID: UInt64
    let attributes: MemberAttributes
    let config: TransportConfig
    let logger: Logger
    /// TLS for accepted connections and for dialling peers whose address uses it; nil: plaintext.
    let tls: PeerTLS?
    private let continuation: AsyncStream<PeerEvent>.Continuation
    private let state = Mutex(State())

    private struct State {
        var knownPeers: Set<NodeID> = []
        var stats = TransportStats()
        var metrics: [NodeID: PeerMetrics] = [:]
        /// Connections peers dialled to us, so shutdown can close them (closing the listener
        /// does not close accepted connections).
        var inbound: [ObjectIdentifier: any Channel] = [:]
        /// When each peer was last reported unreachable (``reportUnreachable(_:)``).
        var unreachableReported: [NodeID: NIODeadline] = [:]
        var stopped = false
        /// Answers a joining member's ``WireFormat/Kind/membershipQuery``; nil: refused.
        var membershipAnswer: (@Sendable () async -> [UInt8])?
    }

    /// Metrics of one peer, created once so the backend sees one series per label set.
    private struct PeerMetrics {
        let sentBytes: Counter
        let receivedBytes: Counter
        let dropped: Counter
        let roundTrip: Metrics.Timer
        /// etcd's name and label (`To`: the peer's member id in hex, as etcd prints ids).
        let etcdRoundTrip: Metrics.Timer

        init(peer: NodeID, factory: any MetricsFactory) {
            let dimensions = [("peer", peer.description)]
            sentBytes = Counter(label: "keel_peer_sent_bytes_total", dimensions: dimensions, factory: factory)
            receivedBytes = Counter(label: "keel_peer_received_bytes_total", dimensions: dimensions, factory: factory)
            dropped = Counter(label: "keel_peer_dropped_messages_total", dimensions: dimensions, factory: factory)
            roundTrip = Metrics.Timer(label: "keel_peer_round_trip_time_seconds", dimensions: dimensions,
                                      preferredDisplayUnit: .seconds, factory: factory)
            etcdRoundTrip = Metrics.Timer(label: "etcd_network_peer_round_trip_time_seconds",
                                          dimensions: [("To", String(peer.rawValue, radix: 16))],
                                          preferredDisplayUnit: .seconds, factory: factory)
        }
    }

    private let metricsFactory: any MetricsFactory
    private let eventsDroppedCounter: Counter

    init(selfID: NodeID, clusterID: UInt64, attributes: MemberAttributes, config: TransportConfig, logger: Logger,
         tls: PeerTLS? = nil, metricsFactory: any MetricsFactory, continuation: AsyncStream<PeerEvent>.Continuation) {
        self.tls = tls
        self.metricsFactory = metricsFactory
        self.eventsDroppedCounter = Counter(label: "keel_peer_events_dropped_total", factory: metricsFactory)
        self.selfID = selfID
        self.clusterID = clusterID
        self.attributes = attributes
        self.config = config
        self.logger = logger
        self.continuation = continuation
    }

    /// Hands an event to the consumer; counts it if the bounded buffer is full.
    func emit(_ event: PeerEvent) {
        switch continuation.yield(event) {
        case .enqueued, .terminated:
            return
        case .dropped:
            state.withLock { $0.stats.eventsDropped += 1 }
            eventsDroppedCounter.increment()
        @unknown default:
            return
        }
    }

    func finishEvents() { continuation.finish() }

    /// Emits ``PeerEvent/unreachable(_:)`` at most once per
    /// ``TransportConfig/unreachableReportInterval`` per peer: a burst of sends to a full queue
    /// would otherwise fill the event buffer with copies of the same news and crowd out messages.
    func reportUnreachable(_ peer: NodeID) {
        let now = NIODeadline.now()
        let interval = TimeAmount(config.unreachableReportInterval)
        let due = state.withLock { state -> Bool in
            if let last = state.unreachableReported[peer], now - last < interval { return false }
            state.unreachableReported[peer] = now
            return true
        }
        if due { emit(.unreachable(peer)) }
    }

    /// Registers an accepted connection; returns false (the caller closes it) after shutdown or
    /// when ``TransportConfig/inboundConnectionsMax`` connections are open.
    func addInbound(_ channel: any Channel) -> Bool {
        let inboundConnectionsMax = config.inboundConnectionsMax
        return state.withLock { state in
            guard !state.stopped, state.inbound.count < inboundConnectionsMax else { return false }
            state.inbound[ObjectIdentifier(channel)] = channel
            return true
        }
    }

    var inboundCount: Int { state.withLock { $0.inbound.count } }

    func removeInbound(_ channel: any Channel) {
        _ = state.withLock { $0.inbound.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Stops accepting and returns the open inbound connections for closing.
    func stopInbound() -> [any Channel] {
        state.withLock { state in
            state.stopped = true
            defer { state.inbound = [:] }
            return Array(state.inbound.values)
        }
    }

    /// The host's answer to a joining member's question (see ``TCPPeerTransport/answerMembershipQueries(with:)``).
    var membershipAnswer: (@Sendable () async -> [UInt8])? {
        get { state.withLock { $0.membershipAnswer } }
        set { state.withLock { $0.membershipAnswer = newValue } }
    }

    func setKnownPeers(_ peers: Set<NodeID>) {
        state.withLock { $0.knownPeers = peers }
    }

    func isKnownPeer(_ peer: NodeID) -> Bool {
        state.withLock { $0.knownPeers.contains(peer) }
    }

    var stats: TransportStats { state.withLock { $0.stats } }

    /// Applies `update` to a peer's counters (and creates its metrics on first use).
    private func withPeer<R>(_ peer: NodeID, _ update: (inout PeerStats, PeerMetrics) -> R) -> R {
        state.withLock { state in
            let metrics = state.metrics[peer] ?? PeerMetrics(peer: peer, factory: metricsFactory)
            state.metrics[peer] = metrics
            return update(&state.stats.peers[peer, default: PeerStats()], metrics)
        }
    }

    func recordSent(to peer: NodeID, bytes: Int, messages: Int, snapshotChunks: Int = 0) {
        let metrics = withPeer(peer) { stats, metrics in
            stats.sentBytes += UInt64(bytes)
            stats.snapshotChunksSent += UInt64(snapshotChunks)
            if messages > 0 {
                stats.messagesSent += UInt64(messages)
                stats.messageFramesSent += 1
            }
            return metrics
        }
        metrics.sentBytes.increment(by: Int64(bytes))
    }

    func recordReceived(from peer: NodeID, bytes: Int, messages: Int) {
        let metrics = withPeer(peer) { stats, metrics in
            stats.receivedBytes += UInt64(bytes)
            stats.messagesReceived += UInt64(messages)
            return metrics
        }
        metrics.receivedBytes.increment(by: Int64(bytes))
    }

    func recordDropped(to peer: NodeID, messages: Int) {
        guard messages > 0 else { return }
        let metrics = withPeer(peer) { stats, metrics in
            stats.messagesDropped += UInt64(messages)
            return metrics
        }
        metrics.dropped.increment(by: Int64(messages))
    }

    func recordRoundTrip(to peer: NodeID, nanoseconds: Int64) {
        let metrics = withPeer(peer) { stats, metrics in
            stats.lastRoundTrip = .nanoseconds(nanoseconds)
            stats.connected = true
            return metrics
        }
        metrics.roundTrip.recordNanoseconds(nanoseconds)
        metrics.etcdRoundTrip.recordNanoseconds(nanoseconds)
    }

    func recordConnection(to peer: NodeID, opened: Bool) {
        withPeer(peer) { stats, _ in
            if opened { stats.connectionsOpened += 1 } else { stats.connected = false }
        }
    }
}
