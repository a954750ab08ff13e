import Logging
import NIOCore
import NIOPosix
import Raft
import Synchronization

/// Everything we send to one peer: a bounded queue, one outbound connection, reconnection with
/// backoff, batching, snapshot streaming and round-trip probes.
///
/// `@unchecked Sendable` is safe because the queue and the address live in a `Mutex` (``enqueue``
/// is called from any thread), and every other mutable field is only touched on `eventLoop` (the
/// loop the outbound channel is pinned to); those methods check it with `preconditionInEventLoop`.
final class PeerSender: @unchecked Sendable {
    /// The largest single message a frame can carry.
    static let messageBytesMax = WireFormat.frameBytesMax - WireFormat.headerBytes - 4
    /// Bytes a snapshot begin or chunk frame adds before its message or image bytes (stream id,
    /// size or offset).
    static let snapshotFrameOverheadBytes = 16
    /// Frames written per turn of the event loop before yielding to other work.
    static let drainFramesMax = 64

    let peer: NodeID
    let eventLoop: any EventLoop
    private let context: TransportContext
    private let queue: Mutex<Queue>

    private struct Queue {
        var messages = CircularBuffer<PeerMessage>()
        /// Invariant: the sum of ``PeerSender/accountedBytes(_:)`` over `messages`.
        var bytes = 0
        /// Invariant: the number of snapshot messages in `messages`.
        var snapshots = 0
        var drainScheduled = false
        var address: PeerAddress
        var closed = false
    }

    private enum Work {
        case batch([PeerMessage])
        case snapshot(Message)
    }

    /// What ``enqueue(_:)`` could not queue.
    struct Dropped {
        var messages = 0
        var snapshots = 0
    }

    // Confined to `eventLoop`.
    private var channel: (any Channel)?
    private var connecting = false
    private var failures = 0
    private var reconnectTask: Scheduled<Void>?
    private var pingTask: RepeatedTask?
    private var lastHeard = NIODeadline.now()
    private var nextStreamID: UInt64 = 1
    /// The snapshot image being streamed: its chunks go out before any other queued message.
    private var stream: OutgoingSnapshot?

    private struct OutgoingSnapshot {
        let streamID: UInt64
        let image: [UInt8]
        /// Invariant: offset < image.count (a stream is removed when its last chunk is written).
        var offset: Int
    }

    init(peer: NodeID, address: PeerAddress, eventLoop: any EventLoop, context: TransportContext) {
        self.peer = peer
        self.eventLoop = eventLoop
        self.context = context
        self.queue = Mutex(Queue(address: address))
    }

    private var logger: Logger {
        var logger = context.logger
        logger[metadataKey: "peer"] = "\(peer)"
        return logger
    }

    /// Bytes a message counts against ``TransportConfig/sendQueueBytesMax``: its encoding without
    /// the snapshot image (images are bounded by ``TransportConfig/snapshotsQueuedMax``).
    static func accountedBytes(_ message: PeerMessage) -> Int {
        let bytes = PeerMessageCodec.encodedByteCount(message)
        if case .raft(let raft) = message, let snapshot = raft.snapshot { return bytes - snapshot.data.count }
        return bytes
    }

    private static func isSnapshot(_ message: PeerMessage) -> Bool {
        if case .raft(let raft) = message { return raft.snapshot != nil }
        return false
    }

    // MARK: Any thread

    /// Queues messages in order; never blocks. Returns what did not fit.
    func enqueue(_ messages: [PeerMessage]) -> Dropped {
        let config = context.config
        var dropped = Dropped()
        var tooLarge = 0
        let scheduleDrain = queue.withLock { queue -> Bool in
            var added = false
            for message in messages {
                let bytes = Self.accountedBytes(message)
                let isSnapshot = Self.isSnapshot(message)
                let bytesMax = isSnapshot ? Self.messageBytesMax - Self.snapshotFrameOverheadBytes : Self.messageBytesMax
                let fits = !queue.closed
                    && bytes <= bytesMax
                    && queue.messages.count < config.sendQueueMessagesMax
                    && queue.bytes + bytes <= config.sendQueueBytesMax
                    && (!isSnapshot || queue.snapshots < config.snapshotsQueuedMax)
                guard fits else {
                    dropped.messages += 1
                    if isSnapshot { dropped.snapshots += 1 }
                    if bytes > bytesMax { tooLarge += 1 }
                    continue
                }
                queue.messages.append(message)
                queue.bytes += bytes
                if isSnapshot { queue.snapshots += 1 }
                added = true
            }
            guard added, !queue.drainScheduled else { return false }
            queue.drainScheduled = true
            return true
        }
        if tooLarge > 0 {
            logger.info("dropped \(tooLarge) message(s) larger than the \(Self.messageBytesMax)-byte frame limit")
        }
        if scheduleDrain { scheduleDrainOnLoop() }
        return dropped
    }

    /// Points the sender at a new address; the current connection (if any) is closed and redialled.
    func setAddress(_ address: PeerAddress) {
        let changed = queue.withLock { queue -> Bool in
            defer { queue.address = address }
            return queue.address != address
        }
        guard changed else { return }
        eventLoop.execute { [self] in
            logger.info("peer address changed to \(address); reconnecting")
            channel?.close(promise: nil)
        }
    }

    /// Starts dialling.
    func start() {
        eventLoop.execute { [self] in connect() }
    }

    /// Stops for good: drops the queue (reporting queued snapshots as failed) and closes the
    /// connection. The future completes when the connection is closed.
    func close() -> EventLoopFuture<Void> {
        let snapshotsDropped = queue.withLock { queue -> Int in
            queue.closed = true
            let snapshots = queue.snapshots
            queue.messages.removeAll()
            queue.bytes = 0
            queue.snapshots = 0
            return snapshots
        }
        for _ in 0..<snapshotsDropped { context.emit(.snapshotStatus(peer, succeeded: false)) }
        return eventLoop.flatSubmit { [self] in
            reconnectTask?.cancel()
            reconnectTask = nil
            pingTask?.cancel()
            pingTask = nil
            guard let channel else { return eventLoop.makeSucceededVoidFuture() }
            return channel.close().recover { _ in }
        }
    }

    // MARK: Event loop

    private func scheduleDrainOnLoop() {
        eventLoop.execute { [self] in
            queue.withLock { $0.drainScheduled = false }
            drain()
        }
    }

    /// Takes the next frame's worth of messages: a run of ordinary messages up to the batch
    /// limits, or one snapshot message alone.
    private func takeWork() -> Work? {
        let config = context.config
        return queue.withLock { queue -> Work? in
            guard let first = queue.messages.first else { return nil }
            if Self.isSnapshot(first), case .raft(let raft) = first {
                queue.messages.removeFirst()
                queue.bytes -= Self.accountedBytes(first)
                queue.snapshots -= 1
                return .snapshot(raft)
            }
            var batch: [PeerMessage] = []
            var batchBytes = 0
            while let next = queue.messages.first, !Self.isSnapshot(next), batch.count < config.batchMessagesMax {
                let bytes = Self.accountedBytes(next)
                guard batch.isEmpty || batchBytes + bytes <= config.batchBytesMax else { break }
                queue.messages.removeFirst()
                queue.bytes -= bytes
                batchBytes += bytes
                batch.append(next)
            }
            return .batch(batch)
        }
    }

    /// Writes queued messages while the connection accepts more.
    func drain() {
        eventLoop.preconditionInEventLoop()
        guard let channel, channel.isActive else { return }
        var frames = 0
        while channel.isWritable, frames < Self.drainFramesMax {
            if stream != nil {
                writeNextChunk(on: channel)
                frames += 1
                continue
            }
            guard let work = takeWork() else { break }
            frames += 1
            switch work {
            case .batch(let messages):
                let frame = FrameCodec.encode(kind: .messages, payload: MessageBatch.encode(messages))
                context.recordSent(to: peer, bytes: frame.readableBytes, messages: messages.count)
                channel.write(frame, promise: nil)
            case .snapshot(let message):
                beginSnapshot(message, on: channel)
            }
        }
        channel.flush()
        if frames == Self.drainFramesMax {
            let reschedule = queue.withLock { queue -> Bool in
                guard !queue.drainScheduled else { return false }
                queue.drainScheduled = true
                return true
            }
            if reschedule { scheduleDrainOnLoop() }
        }
    }

    /// Starts streaming a snapshot message: the begin frame now, the image chunks as the
    /// connection drains (``writeNextChunk(on:)``).
    private func beginSnapshot(_ message: Message, on channel: any Channel) {
        let streamID = nextStreamID
        nextStreamID += 1
        let image = message.snapshot?.data ?? []
        let frame = SnapshotSplitter.beginFrame(for: message, streamID: streamID)
        context.recordSent(to: peer, bytes: frame.readableBytes, messages: 1)
        logger.debug("streaming snapshot at index \(message.snapshot?.metadata.index.rawValue ?? 0): \(image.count) bytes")
        if image.isEmpty {
            channel.write(frame, promise: snapshotWritten(streamID))
        } else {
            channel.write(frame, promise: nil)
            stream = OutgoingSnapshot(streamID: streamID, image: image, offset: 0)
        }
    }

    private func writeNextChunk(on channel: any Channel) {
        guard var current = stream else { preconditionFailure("no snapshot is being streamed") }
        let (frame, end) = SnapshotSplitter.chunkFrame(
            image: current.image, offset: current.offset, chunkBytes: context.config.snapshotChunkBytes,
            streamID: current.streamID)
        context.recordSent(to: peer, bytes: frame.readableBytes, messages: 0, snapshotChunks: 1)
        if end == current.image.count {
            stream = nil
            channel.write(frame, promise: snapshotWritten(current.streamID))
        } else {
            current.offset = end
            stream = current
            channel.write(frame, promise: nil)
        }
    }

    /// A promise for the last frame of a snapshot: reports the outcome once that frame was
    /// written to the socket, or failed with the connection.
    private func snapshotWritten(_ streamID: UInt64) -> EventLoopPromise<Void> {
        let done = eventLoop.makePromise(of: Void.self)
        done.futureResult.whenComplete { [self] result in
            switch result {
            case .success:
                context.emit(.snapshotStatus(peer, succeeded: true))
            case .failure(let error):
                logger.info("snapshot stream \(streamID) failed: \(error)")
                context.emit(.snapshotStatus(peer, succeeded: false))
            }
        }
        return done
    }

    private func connect() {
        eventLoop.preconditionInEventLoop()
        reconnectTask = nil
        guard channel == nil, !connecting else { return }
        guard let address = queue.withLock({ $0.closed ? nil : $0.address }) else { return }
        connecting = true
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(context.config.connectTimeout))
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    if address.usesTLS {
                        // Checked at init and in setPeers: a TLS address comes with a PeerTLS.
                        guard let tls = context.tls else { preconditionFailure("a TLS peer address without PeerTLS") }
                        try channel.pipeline.syncOperations.addHandler(try tls.clientHandler(for: address))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(OutboundConnectionHandler(sender: self))
                }
            }
        bootstrap.connect(host: address.host, port: address.port).whenComplete { [self] result in
            connecting = false
            switch result {
            case .success(let channel):
                connected(channel)
            case .failure(let error):
                failed("cannot connect to \(address): \(error)")
            }
        }
    }

    private func connected(_ channel: any Channel) {
        eventLoop.preconditionInEventLoop()
        guard !queue.withLock({ $0.closed }), channel.isActive else {
            channel.close(promise: nil)
            return
        }
        self.channel = channel
        lastHeard = .now()
        let handshake = Handshake(clusterID: context.clusterID, sender: context.selfID, receiver: peer,
                                  attributes: context.attributes)
        let frame = FrameCodec.encode(kind: .handshake, payload: handshake.encoded())
        context.recordSent(to: peer, bytes: frame.readableBytes, messages: 0)
        context.recordConnection(to: peer, opened: true)
        channel.write(frame, promise: nil)
        logger.debug("connected to peer")
        let interval = TimeAmount(context.config.pingInterval)
        pingTask = eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: interval) { [self] _ in ping() }
        drain()
    }

    /// The outbound channel closed (by us, the peer, or an error).
    func connectionClosed(_ closed: any Channel) {
        eventLoop.preconditionInEventLoop()
        guard let channel, channel === closed else { return }
        self.channel = nil
        pingTask?.cancel()
        pingTask = nil
        if let interrupted = stream {
            stream = nil
            logger.info("snapshot stream \(interrupted.streamID) interrupted at byte \(interrupted.offset) of \(interrupted.image.count)")
            context.emit(.snapshotStatus(peer, succeeded: false))
        }
        context.recordConnection(to: peer, opened: false)
        failed("connection closed")
    }

    private func failed(_ reason: String) {
        eventLoop.preconditionInEventLoop()
        failures += 1
        guard !queue.withLock({ $0.closed }) else { return }
        if failures == 1 {
            logger.info("peer unreachable: \(reason)")
        } else {
            logger.debug("peer unreachable (attempt \(failures)): \(reason)")
        }
        context.reportUnreachable(peer)
        let snapshotsDropped = dropQueuedSnapshots()
        context.recordDropped(to: peer, messages: snapshotsDropped)
        for _ in 0..<snapshotsDropped { context.emit(.snapshotStatus(peer, succeeded: false)) }
        scheduleReconnect()
    }

    /// Removes queued snapshot messages: while the peer is unreachable Raft should hear at once
    /// that the snapshot failed (and retry later) rather than wait for a reconnection.
    private func dropQueuedSnapshots() -> Int {
        queue.withLock { queue -> Int in
            guard queue.snapshots > 0 else { return 0 }
            var kept = CircularBuffer<PeerMessage>(initialCapacity: queue.messages.count)
            var dropped = 0
            for message in queue.messages {
                if Self.isSnapshot(message) {
                    queue.bytes -= Self.accountedBytes(message)
                    dropped += 1
                } else {
                    kept.append(message)
                }
            }
            queue.messages = kept
            queue.snapshots = 0
            return dropped
        }
    }

    private func scheduleReconnect() {
        guard reconnectTask == nil else { return }
        let delay = ReconnectBackoff.delay(failures: failures, config: context.config)
        reconnectTask = eventLoop.scheduleTask(in: TimeAmount(delay)) { [self] in connect() }
    }

    private func ping() {
        eventLoop.preconditionInEventLoop()
        guard let channel else { return }
        let now = NIODeadline.now()
        guard now - lastHeard <= TimeAmount(context.config.pongTimeout) else {
            logger.info("peer answered no probe for \(context.config.pongTimeout); closing the connection")
            channel.close(promise: nil)
            return
        }
        let frame = FrameCodec.encode(kind: .ping, payload: PingPayload.encode(now.uptimeNanoseconds))
        context.recordSent(to: peer, bytes: frame.readableBytes, messages: 0)
        channel.writeAndFlush(frame, promise: nil)
    }

    /// A probe came back: the connection works (the handshake was accepted).
    func pong(sentAtNanoseconds: UInt64, wireBytes: Int) {
        eventLoop.preconditionInEventLoop()
        let now = NIODeadline.now()
        lastHeard = now
        failures = 0
        context.recordReceived(from: peer, bytes: wireBytes, messages: 0)
        let elapsed = now.uptimeNanoseconds &- sentAtNanoseconds
        guard elapsed < UInt64(Int64.max) else { return }
        context.recordRoundTrip(to: peer, nanoseconds: Int64(elapsed))
    }

    /// The peer refused our handshake and says why.
    func refused(_ reason: String) {
        logger.info("peer refused our connection: \(reason)")
    }

    /// Something went wrong on the outbound connection; it is being closed.
    func connectionError(_ error: any Error) {
        if PeerTLS.isTLSFailure(error) {
            logger.info("outbound connection failed: TLS handshake with the peer failed (its certificate is not signed by a trusted CA, or it refused ours): \(error)")
            return
        }
        logger.info("outbound connection failed: \(error)")
    }
}
