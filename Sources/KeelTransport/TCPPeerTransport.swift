import Logging
import Metrics
import NIOCore
import NIOPosix
import NIOSSL
import Raft
import Synchronization

/// The production ``PeerNetwork``: Raft and host messages over TCP with SwiftNIO.
///
/// Each peer gets one outbound connection that carries our messages to it (its own connection to
/// us carries its messages back), opened with a handshake naming the cluster and both members.
/// ``send(_:)`` only appends to a bounded per-peer queue; an event loop drains it into frames that
/// hold several messages under load. Connections are redialled with exponential backoff and
/// jitter; large snapshot images are streamed in chunks. Metrics go through swift-metrics
/// (`keel_peer_sent_bytes_total`, `keel_peer_received_bytes_total`,
/// `keel_peer_round_trip_time_seconds`, `keel_peer_dropped_messages_total`,
/// `keel_peer_events_dropped_total`).
public final class TCPPeerTransport: PeerNetwork, Sendable {
    /// Everything the transport reports, in arrival order; bounded by
    /// ``TransportConfig/eventsBufferedMax`` (drops are counted in ``stats``).
    public let events: AsyncStream<PeerEvent>

    /// This member's id.
    public var selfID: NodeID { context.selfID }

    let context: TransportContext
    private let listenHost: String
    private let listenPort: Int
    private let group: any EventLoopGroup
    private let state: Mutex<State>

    private struct State {
        var addresses: [NodeID: PeerAddress]
        var senders: [NodeID: PeerSender] = [:]
        var server: (any Channel)?
        var boundPort: Int?
        var started = false
        var stopped = false
    }

    /// Creates a transport; nothing is bound or dialled before ``start()``.
    ///
    /// - Parameters:
    ///   - selfID: this member's id (not zero).
    ///   - clusterID: connections from members of another cluster are refused.
    ///   - attributes: sent to each peer in the handshake (it emits ``PeerEvent/peerAttributes(_:_:)``).
    ///   - listenHost, listenPort: where peers connect to us; port 0 picks a free port (``boundPort``).
    ///   - peers: the other members and where they listen; our own id, if present, is ignored.
    ///   - tls: when given, accepted connections are TLS if it has a ``PeerTLS/server`` and peers whose
    ///     address ``PeerAddress/usesTLS`` are dialled with ``PeerTLS/client``. Without it, no
    ///     address may use TLS.
    public convenience init(selfID: NodeID, clusterID: UInt64, attributes: MemberAttributes, listenHost: String,
                            listenPort: Int, peers: [NodeID: PeerAddress], config: TransportConfig = .init(),
                            tls: PeerTLS? = nil, logger: Logger) {
        self.init(selfID: selfID, clusterID: clusterID, attributes: attributes, listenHost: listenHost,
                  listenPort: listenPort, peers: peers, config: config, tls: tls, logger: logger,
                  metricsFactory: MetricsSystem.factory)
    }

    /// As the public initializer, with the metrics going to `metricsFactory` instead of the
    /// process-wide bootstrapped one (tests observe them without bootstrapping `MetricsSystem`).
    init(selfID: NodeID, clusterID: UInt64, attributes: MemberAttributes, listenHost: String, listenPort: Int,
         peers: [NodeID: PeerAddress], config: TransportConfig, tls: PeerTLS? = nil, logger: Logger,
         metricsFactory: any MetricsFactory) {
        precondition(selfID != .none, "a transport needs a non-zero member id")
        precondition(tls != nil || !peers.values.contains(where: \.usesTLS), "a peer address uses TLS but no PeerTLS was given")
        config.validate()
        let (events, continuation) = AsyncStream.makeStream(
            of: PeerEvent.self, bufferingPolicy: .bufferingOldest(config.eventsBufferedMax))
        var logger = logger
        logger[metadataKey: "member"] = "\(selfID)"
        self.events = events
        self.context = TransportContext(selfID: selfID, clusterID: clusterID, attributes: attributes, config: config,
                                        logger: logger, tls: tls, metricsFactory: metricsFactory, continuation: continuation)
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.group = MultiThreadedEventLoopGroup.singleton
        let addresses = peers.filter { $0.key != selfID && $0.key != .none }
        self.state = Mutex(State(addresses: addresses))
        context.setKnownPeers(Set(addresses.keys))
        state.withLock { state in
            for (peer, address) in addresses { state.senders[peer] = makeSender(peer: peer, address: address) }
        }
    }

    private func makeSender(peer: NodeID, address: PeerAddress) -> PeerSender {
        PeerSender(peer: peer, address: address, eventLoop: group.next(), context: context)
    }

    /// The port the listener is bound to, once ``start()`` returned.
    public var boundPort: Int? { state.withLock { $0.boundPort } }

    /// Connections peers hold open to us (accepted, handshake done or pending).
    var inboundConnectionCount: Int { context.inboundCount }

    /// Counters: bytes, messages, frames, drops, connected peers.
    public var stats: TransportStats { context.stats }

    /// Binds the listener and starts dialling the peers. Throws if the address cannot be bound.
    public func start() async throws {
        let context = self.context
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let server = context.tls?.server {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: server))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(InboundConnectionHandler(transport: context))
                }
            }
        let server = try await bootstrap.bind(host: listenHost, port: listenPort).get()
        let port = server.localAddress?.port
        let (senders, stopped) = state.withLock { state -> ([PeerSender], Bool) in
            precondition(!state.started, "start() called twice")
            state.started = true
            state.server = server
            state.boundPort = port
            return (Array(state.senders.values), state.stopped)
        }
        if stopped {
            try? await server.close()
            return
        }
        context.logger.info("peer transport listening on \(listenHost):\(port.map(String.init) ?? "?")\(context.tls?.server == nil ? "" : " (tls)")")
        for sender in senders { sender.start() }
    }

    /// Queues messages for their destinations; never blocks or waits. A message for an unknown
    /// peer, or one that does not fit its peer's queue, is dropped and reported as
    /// ``PeerEvent/unreachable(_:)`` (at most once per ``TransportConfig/unreachableReportInterval``
    /// per peer); a dropped snapshot message is also reported as a failed
    /// ``PeerEvent/snapshotStatus(_:succeeded:)``.
    public func send(_ messages: [PeerMessage]) {
        guard !messages.isEmpty else { return }
        var byPeer: [NodeID: [PeerMessage]] = [:]
        for message in messages { byPeer[message.to, default: []].append(message) }
        for (peer, batch) in byPeer {
            let sender = state.withLock { $0.stopped ? nil : $0.senders[peer] }
            var dropped = PeerSender.Dropped()
            if let sender {
                dropped = sender.enqueue(batch)
            } else {
                dropped.messages = batch.count
                dropped.snapshots = batch.filter { if case .raft(let m) = $0 { m.snapshot != nil } else { false } }.count
                context.logger.debug("dropped \(batch.count) message(s) for unknown peer \(peer)")
            }
            guard dropped.messages > 0 else { continue }
            context.recordDropped(to: peer, messages: dropped.messages)
            context.reportUnreachable(peer)
            for _ in 0..<dropped.snapshots { context.emit(.snapshotStatus(peer, succeeded: false)) }
        }
    }

    /// Replaces the peer list: new peers are dialled, removed ones closed (their queues dropped),
    /// peers whose address changed are redialled at the new address.
    public func setPeers(_ peers: [NodeID: PeerAddress]) {
        precondition(context.tls != nil || !peers.values.contains(where: \.usesTLS), "a peer address uses TLS but no PeerTLS was given")
        let peers = peers.filter { $0.key != context.selfID && $0.key != .none }
        context.setKnownPeers(Set(peers.keys))
        let (added, removed, changed, started) = state.withLock { state in
            var added: [PeerSender] = []
            var removed: [PeerSender] = []
            var changed: [(PeerSender, PeerAddress)] = []
            for (peer, address) in peers {
                if let sender = state.senders[peer] {
                    if state.addresses[peer] != address { changed.append((sender, address)) }
                } else if !state.stopped {
                    let sender = makeSender(peer: peer, address: address)
                    state.senders[peer] = sender
                    added.append(sender)
                }
            }
            for (peer, sender) in state.senders where peers[peer] == nil {
                state.senders[peer] = nil
                removed.append(sender)
            }
            state.addresses = peers
            return (added, removed, changed, state.started && !state.stopped)
        }
        for (sender, address) in changed { sender.setAddress(address) }
        for sender in removed { _ = sender.close() }
        if started { for sender in added { sender.start() } }
    }

    /// Closes the listener and every connection, then ends ``events``. Queued messages are dropped.
    public func shutdown() async {
        let (server, senders) = state.withLock { state -> ((any Channel)?, [PeerSender]) in
            state.stopped = true
            let senders = Array(state.senders.values)
            state.senders = [:]
            return (state.server, senders)
        }
        try? await server?.close()
        for channel in context.stopInbound() { try? await channel.close() }
        for sender in senders { try? await sender.close().get() }
        context.finishEvents()
    }
}
