import NIOCore
import NIOPosix

extension TCPPeerTransport {
    /// Answers members about to join (`--initial-cluster-state existing`) with `answer`'s bytes:
    /// the host's description of the cluster, from which the newcomer learns its id and the
    /// cluster's.
    public func answerMembershipQueries(with answer: @escaping @Sendable () async -> [UInt8]) {
        context.membershipAnswer = answer
    }

    /// Asks the member listening at `address` who the members are (its ``answerMembershipQueries(with:)``
    /// bytes), over TLS when the address says so (with `tls`'s client context). Throws when it
    /// cannot be reached within `timeout`, refuses, or answers anything else.
    public static func queryMembership(at address: PeerAddress, tls: PeerTLS?, timeout: Duration) async throws -> [UInt8] {
        if address.usesTLS && tls == nil {
            throw TransportError(.protocolViolation, "\(address) is an https peer URL, but this member has no peer certificate to dial it with")
        }
        let answer = MembershipAnswerHandler.Answer()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(TimeAmount(timeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if address.usesTLS, let tls { try channel.pipeline.syncOperations.addHandler(try tls.clientHandler(for: address)) }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(MembershipAnswerHandler(answer: answer.promise(on: channel.eventLoop)))
                }
            }
            .connect(host: address.host, port: address.port).get()
        let timer = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            channel.close(promise: nil)
        }
        defer { timer.cancel() }
        try await channel.writeAndFlush(FrameCodec.encode(kind: .membershipQuery, payload: ByteBuffer())).get()
        let bytes = try await answer.result.get()
        channel.close(promise: nil)
        return bytes
    }
}

/// Takes the one frame a member answers a membership query with.
final class MembershipAnswerHandler: ChannelInboundHandler {
    typealias InboundIn = ReceivedFrame

    /// The answer's promise, made once the channel's event loop is known.
    final class Answer: @unchecked Sendable {
        private var made: EventLoopPromise<[UInt8]>?

        func promise(on loop: any EventLoop) -> EventLoopPromise<[UInt8]> {
            let promise = loop.makePromise(of: [UInt8].self)
            made = promise
            return promise
        }

        var result: EventLoopFuture<[UInt8]> { made!.futureResult }
    }

    private let answer: EventLoopPromise<[UInt8]>
    private var done = false

    init(answer: EventLoopPromise<[UInt8]>) { self.answer = answer }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data).frame
        switch frame.kind {
        case .membershipAnswer:
            finish(.success(Array(buffer: frame.payload)))
        case .refusal:
            finish(.failure(TransportError(.protocolViolation, "the member refused: \(String(buffer: frame.payload))")))
        default:
            finish(.failure(TransportError(.protocolViolation, "the member answered a membership query with a \(frame.kind) frame")))
        }
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(error))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(TransportError(.protocolViolation, "the member closed the connection without answering")))
        context.fireChannelInactive()
    }

    private func finish(_ result: Result<[UInt8], any Error>) {
        guard !done else { return }
        done = true
        answer.completeWith(result)
    }
}
