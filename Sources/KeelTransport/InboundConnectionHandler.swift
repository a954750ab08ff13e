import Logging
import NIOCore
import Raft

/// The handler of a connection a peer dialled to us: a handshake first, then that peer's
/// messages, snapshot streams and probes. Any bad frame closes the connection (the peer redials).
final class InboundConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ReceivedFrame
    typealias OutboundOut = ByteBuffer

    private let transport: TransportContext
    private var logger: Logger
    /// The peer, once its handshake was accepted.
    private var peer: NodeID?
    private var assembler: SnapshotAssembler
    private var handshakeTimeout: Scheduled<Void>?
    /// Set once the handshake was refused: what follows is ignored until the connection closes.
    private var refused = false

    init(transport: TransportContext) {
        self.transport = transport
        self.logger = transport.logger
        self.assembler = SnapshotAssembler(totalBytesMax: transport.config.snapshotBytesMax)
    }

    func channelActive(context: ChannelHandlerContext) {
        logger[metadataKey: "remote"] = "\(context.remoteAddress.map { "\($0)" } ?? "?")"
        let channel = context.channel
        guard transport.addInbound(channel) else {
            logger.info("closing an inbound connection: shut down, or \(transport.config.inboundConnectionsMax) connections already open")
            context.close(promise: nil)
            return
        }
        let timeout = transport.config.handshakeTimeout
        let logger = self.logger
        handshakeTimeout = context.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            logger.info("closing an inbound connection that sent no handshake within \(timeout)")
            channel.close(promise: nil)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeTimeout?.cancel()
        transport.removeInbound(context.channel)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let received = unwrapInboundIn(data)
        do {
            try handle(received, context: context)
        } catch {
            close(context: context, error: error)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        close(context: context, error: error)
    }

    private func handle(_ received: ReceivedFrame, context: ChannelHandlerContext) throws(TransportError) {
        let frame = received.frame
        guard !refused else { return }
        guard let peer else {
            if frame.kind == .membershipQuery { return answerMembershipQuery(context: context) }
            guard frame.kind == .handshake else {
                throw TransportError(.protocolViolation, "first frame is \(frame.kind), not a handshake")
            }
            try accept(Handshake.decode(frame.payload), wireBytes: received.wireBytes, context: context)
            return
        }
        var delivered = 0
        defer { transport.recordReceived(from: peer, bytes: received.wireBytes, messages: delivered) }
        switch frame.kind {
        case .messages:
            let messages = try MessageBatch.decode(frame.payload)
            for message in messages { try checkAddressing(message, from: peer) }
            for message in messages { transport.emit(.message(message)) }
            delivered = messages.count
        case .snapshotBegin:
            let begin = try SnapshotBegin.decode(frame.payload)
            try checkAddressing(.raft(begin.header), from: peer)
            if let message = try assembler.begin(begin) {
                transport.emit(.message(.raft(message)))
                delivered = 1
            }
        case .snapshotChunk:
            if let message = try assembler.add(SnapshotChunk.decode(frame.payload)) {
                transport.emit(.message(.raft(message)))
                delivered = 1
            }
        case .ping:
            let sentAt = try PingPayload.decode(frame.payload)
            context.writeAndFlush(wrapOutboundOut(FrameCodec.encode(kind: .pong, payload: PingPayload.encode(sentAt))),
                                  promise: nil)
        case .handshake, .pong, .refusal, .membershipQuery, .membershipAnswer:
            throw TransportError(.protocolViolation, "unexpected \(frame.kind) frame after the handshake")
        }
    }

    private func checkAddressing(_ message: PeerMessage, from peer: NodeID) throws(TransportError) {
        guard message.from == peer, message.to == transport.selfID else {
            throw TransportError(.protocolViolation,
                                 "message from \(message.from) to \(message.to) on the connection of peer \(peer) to \(transport.selfID)")
        }
    }

    private func accept(_ handshake: Handshake, wireBytes: Int, context: ChannelHandlerContext) throws(TransportError) {
        if let reason = refusalReason(handshake) {
            logger.info("refused a peer connection: \(reason)")
            refused = true
            let refusal = FrameCodec.encode(kind: .refusal, payload: ByteBuffer(string: reason))
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(refusal)).whenComplete { _ in channel.close(promise: nil) }
            handshakeTimeout?.cancel()
            return
        }
        handshakeTimeout?.cancel()
        handshakeTimeout = nil
        peer = handshake.sender
        logger[metadataKey: "peer"] = "\(handshake.sender)"
        logger.debug("accepted a connection from peer \(handshake.sender) (\(handshake.attributes.name))")
        transport.recordReceived(from: handshake.sender, bytes: wireBytes, messages: 0)
        transport.emit(.peerAttributes(handshake.sender, handshake.attributes))
    }

    /// A member about to join asks who the members are: one answer, then the connection closes.
    private func answerMembershipQuery(context: ChannelHandlerContext) {
        handshakeTimeout?.cancel()
        handshakeTimeout = nil
        refused = true
        let channel = context.channel
        guard let answer = transport.membershipAnswer else {
            let refusal = FrameCodec.encode(kind: .refusal, payload: ByteBuffer(string: "this member does not answer membership queries"))
            context.writeAndFlush(wrapOutboundOut(refusal)).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        let promise = channel.eventLoop.makePromise(of: [UInt8].self)
        promise.completeWithTask { await answer() }
        promise.futureResult.whenComplete { result in
            guard case .success(let bytes) = result, bytes.count <= WireFormat.frameBytesMax - WireFormat.headerBytes else {
                channel.close(promise: nil)
                return
            }
            let frame = FrameCodec.encode(kind: .membershipAnswer, payload: ByteBuffer(bytes: bytes))
            channel.writeAndFlush(frame).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    private func refusalReason(_ handshake: Handshake) -> String? {
        if handshake.clusterID != transport.clusterID {
            return "cluster id mismatch: peer \(handshake.sender) belongs to cluster \(hex(handshake.clusterID)), "
                + "this member (\(transport.selfID)) to cluster \(hex(transport.clusterID))"
        }
        if handshake.sender == .none {
            return "the handshake names sender 0, which is not a valid member id"
        }
        if handshake.sender == transport.selfID {
            return "the handshake names this member's own id \(transport.selfID) as the sender"
        }
        if !transport.isKnownPeer(handshake.sender) {
            return "member \(handshake.sender) is not a known peer of member \(transport.selfID)"
        }
        if handshake.receiver != transport.selfID {
            return "the peer meant to reach member \(handshake.receiver) but this is member \(transport.selfID)"
        }
        return nil
    }

    private func close(context: ChannelHandlerContext, error: any Error) {
        if PeerTLS.isTLSFailure(error) {
            logger.info("refused a peer connection: TLS handshake failed (no certificate, or one not signed by a trusted CA): \(error)")
        } else {
            logger.info("closing an inbound peer connection: \(error)")
        }
        context.close(promise: nil)
    }

    private func hex(_ value: UInt64) -> String { String(value, radix: 16) }
}
