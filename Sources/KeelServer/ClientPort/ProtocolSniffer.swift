import NIOCore
import NIOHTTP1

/// The first handler of every connection on a client port (after TLS's on an `https` one, so it
/// reads decrypted bytes): it tells gRPC's HTTP/2 from an HTTP/1 request (`/metrics`, `/health`,
/// `/version`, as etcd answers on its client URLs) by the connection's first bytes, then gets out
/// of the way.
///
/// gRPC's handlers are already behind it (grpc-swift's listener API configures every accepted
/// connection before it reads a byte), so until it knows, it holds what they write (HTTP/2's
/// server preface) and the bytes read. For HTTP/2 it hands both on and removes itself: the gRPC
/// path then has no extra hop. For HTTP/1 it puts an HTTP/1 server in front of itself, replays the
/// bytes into it, and from then on drops whatever gRPC's idle handlers write; closes still pass.
final class ProtocolSniffer: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    /// What every HTTP/2 client sends first (RFC 9113 §3.4); no HTTP/1 request line starts so.
    static let http2Preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// What the first bytes say.
    enum Verdict: Equatable {
        case undecided
        case http2
        case http1
    }

    private enum State {
        case sniffing
        case http1
        case removed
    }

    private let http: ClientPortHTTP
    private var state = State.sniffing
    private var received: ByteBuffer?
    private var heldWrites: [(NIOAny, EventLoopPromise<Void>?)] = []
    private var flushHeld = false

    init(http: ClientPortHTTP) {
        self.http = http
    }

    /// Decided within the preface's 24 bytes: a mismatch means HTTP/1 (a request line), a full
    /// match HTTP/2; so at most 24 bytes are ever held.
    static func verdict(_ bytes: ByteBuffer) -> Verdict {
        let compared = min(bytes.readableBytes, http2Preface.count)
        guard let head = bytes.getBytes(at: bytes.readerIndex, length: compared) else { return .undecided }
        guard head == Array(http2Preface.prefix(compared)) else { return .http1 }
        return compared == http2Preface.count ? .http2 : .undecided
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .sniffing = state else { return }
        var bytes = unwrapInboundIn(data)
        if received == nil {
            received = bytes
        } else {
            received!.writeBuffer(&bytes)
        }
        switch Self.verdict(received!) {
        case .undecided: return
        case .http2: becomeHTTP2(context: context)
        case .http1: becomeHTTP1(context: context)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch state {
        case .sniffing: heldWrites.append((data, promise))
        case .http1: promise?.fail(ChannelError.ioOnClosedChannel)
        case .removed: context.write(data, promise: promise)
        }
    }

    func flush(context: ChannelHandlerContext) {
        switch state {
        case .sniffing: flushHeld = true
        case .http1: return
        case .removed: context.flush()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Once HTTP/1 answers, gRPC's handlers have no business with the connection's errors.
        guard case .http1 = state else { return context.fireErrorCaught(error) }
    }

    private func becomeHTTP2(context: ChannelHandlerContext) {
        state = .removed
        let writes = heldWrites
        heldWrites = []
        for (data, promise) in writes { context.write(data, promise: promise) }
        if flushHeld { context.flush() }
        if let bytes = received.take() { context.fireChannelRead(wrapInboundOut(bytes)) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func becomeHTTP1(context: ChannelHandlerContext) {
        state = .http1
        let writes = heldWrites
        heldWrites = []
        for (_, promise) in writes { promise?.fail(ChannelError.ioOnClosedChannel) }
        let encoder = HTTPResponseEncoder()
        do {
            // Just in front of this handler rather than first: on a TLS port the TLS handler
            // stays first, and the HTTP/1 handlers see decrypted bytes.
            try context.pipeline.syncOperations.addHandlers(
                [
                    encoder, ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)),
                    HTTPServerProtocolErrorHandler(), HTTPAnswerHandler(routes: http.routes, logger: http.logger),
                ],
                position: .before(self))
        } catch {
            context.close(promise: nil)
            return
        }
        // One answer per connection, and a client that sends half a request is not kept forever.
        let channel = context.channel
        context.eventLoop.scheduleTask(in: http.connectionLifetime) { channel.close(promise: nil) }
        if let bytes = received.take(), let encoderContext = try? context.pipeline.syncOperations.context(handler: encoder) {
            // From the encoder (outbound only), so that the request decoder right after it is the
            // first to see the bytes, and no handler before it (TLS) sees them twice.
            encoderContext.fireChannelRead(NIOAny(bytes))
            encoderContext.fireChannelReadComplete()
        }
    }
}

extension Optional {
    fileprivate mutating func take() -> Wrapped? {
        defer { self = nil }
        return self
    }
}
