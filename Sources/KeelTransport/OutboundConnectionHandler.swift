import NIOCore

/// The handler of a connection we dialled: it carries our messages out; what comes back is only
/// probe answers (``WireFormat/Kind/pong``) or the peer's refusal of our handshake.
final class OutboundConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ReceivedFrame

    private let sender: PeerSender

    init(sender: PeerSender) {
        self.sender = sender
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let received = unwrapInboundIn(data)
        switch received.frame.kind {
        case .pong:
            do {
                let sentAt = try PingPayload.decode(received.frame.payload)
                sender.pong(sentAtNanoseconds: sentAt, wireBytes: received.wireBytes)
            } catch {
                fail(context: context, error: error)
            }
        case .refusal:
            sender.refused(String(buffer: received.frame.payload))
            context.close(promise: nil)
        default:
            fail(context: context,
                 error: TransportError(.protocolViolation, "unexpected \(received.frame.kind) frame on a connection we dialled"))
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { sender.drain() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        sender.connectionClosed(context.channel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context: context, error: error)
    }

    private func fail(context: ChannelHandlerContext, error: any Error) {
        sender.connectionError(error)
        context.close(promise: nil)
    }
}
