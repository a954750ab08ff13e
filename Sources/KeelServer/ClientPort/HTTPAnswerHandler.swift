import Logging
import NIOCore
import NIOHTTP1

/// What a client port answers over HTTP/1, and for how long it keeps such a connection.
struct ClientPortHTTP: Sendable {
    /// How long an HTTP/1 connection on a client port may stay open: it gets one answer, so this
    /// only bounds clients that connect and send nothing or half a request.
    static let connectionLifetimeDefault: TimeAmount = .seconds(10)

    let routes: MetricsRoutes
    let logger: Logger
    var connectionLifetime: TimeAmount = Self.connectionLifetimeDefault
}

/// Answers one HTTP/1 request from ``MetricsRoutes`` and closes the connection, as the separate
/// metrics listener does (Prometheus and `curl` reconnect; a scrape every few seconds does not
/// need keep-alive).
final class HTTPAnswerHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let routes: MetricsRoutes
    private let logger: Logger
    private var head: HTTPRequestHead?
    private var answering = false

    init(routes: MetricsRoutes, logger: Logger) {
        self.routes = routes
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead): head = requestHead
        case .body: return  // GET has no body worth reading; bounded by the connection lifetime
        case .end:
            guard let head, !answering else { return }
            answering = true
            let routes = routes
            let method = head.method.rawValue
            let uri = head.uri
            let answer = context.eventLoop.makePromise(of: HTTPAnswer.self)
            answer.completeWithTask { await routes.answer(method: method, uri: uri) }
            answer.futureResult.assumeIsolated().whenSuccess { answer in
                self.write(answer, to: head, context: context)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("HTTP/1 on a client port: connection ended with an error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    private func write(_ answer: HTTPAnswer, to request: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: answer.contentType)
        headers.add(name: "Content-Length", value: "\(answer.body.count)")
        headers.add(name: "Connection", value: "close")
        let status = HTTPResponseStatus(statusCode: answer.status)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: answer.body)))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
