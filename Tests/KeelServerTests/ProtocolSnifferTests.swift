import Logging
import NIOCore
import NIOEmbedded
import Prometheus
import XCTest

@testable import KeelServer

/// The client port's first handler: HTTP/2 passes through untouched (and the handler leaves the
/// pipeline, so gRPC has no extra hop), HTTP/1 gets etcd's endpoints, and gRPC's early writes reach
/// only an HTTP/2 client.
final class ProtocolSnifferTests: XCTestCase {
    /// Stands for gRPC's handlers: writes its preface when the connection opens, passes reads on.
    private final class EarlyWriter: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        static let preface = "server-settings"

        func channelActive(context: ChannelHandlerContext) {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: Self.preface)), promise: nil)
            context.fireChannelActive()
        }
    }

    private func makeChannel() async throws -> NIOAsyncTestingChannel {
        let routes = MetricsRoutes(registry: PrometheusCollectorRegistry(), serverVersion: "9.9.9-test") { HealthReport(healthy: true) }
        let http = ClientPortHTTP(routes: routes, logger: Logger(label: "test"))
        let channel = NIOAsyncTestingChannel()
        // Made on the channel's loop: handlers are not Sendable.
        try await channel.testingEventLoop.executeInContext {
            try channel.pipeline.syncOperations.addHandlers([ProtocolSniffer(http: http), EarlyWriter()])
        }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2379))
        return channel
    }

    func testVerdictComesWithinThePrefacesBytes() {
        let preface = String(decoding: ProtocolSniffer.http2Preface, as: UTF8.self)
        XCTAssertEqual(ProtocolSniffer.verdict(ByteBuffer(string: preface)), .http2)
        XCTAssertEqual(ProtocolSniffer.verdict(ByteBuffer(string: preface + "\u{0}\u{0}\u{12}\u{4}")), .http2)
        XCTAssertEqual(ProtocolSniffer.verdict(ByteBuffer(string: "PRI * HTTP/2")), .undecided)
        XCTAssertEqual(ProtocolSniffer.verdict(ByteBuffer(string: "P")), .undecided)
        XCTAssertEqual(ProtocolSniffer.verdict(ByteBuffer(string: "POST /v3/kv/range HTTP/1.1\r\n")), .http1)
        XCTAssertEqual(ProtocolSniffer.verdict(ByteBuffer(string: "GET /metrics HTTP/1.1\r\n")), .http1)
    }

    func testHTTP2BytesPassUnchangedAndTheSnifferLeaves() async throws {
        let channel = try await makeChannel()
        let early = try await channel.readOutbound(as: ByteBuffer.self)
        XCTAssertNil(early, "gRPC's preface waits until the client proves to speak HTTP/2")

        let preface = String(decoding: ProtocolSniffer.http2Preface, as: UTF8.self)
        try await channel.writeInbound(ByteBuffer(string: String(preface.prefix(10))))
        let undecided = try await channel.readOutbound(as: ByteBuffer.self)
        XCTAssertNil(undecided)
        try await channel.writeInbound(ByteBuffer(string: String(preface.dropFirst(10)) + "frames"))

        let released = try await channel.readOutbound(as: ByteBuffer.self)
        XCTAssertEqual(released.map { String(buffer: $0) }, EarlyWriter.preface)
        let passed = try await channel.readInbound(as: ByteBuffer.self)
        XCTAssertEqual(passed.map { String(buffer: $0) }, preface + "frames")
        let snifferStays = try await channel.testingEventLoop.submit {
            (try? channel.pipeline.syncOperations.context(handlerType: ProtocolSniffer.self)) != nil
        }.get()
        XCTAssertFalse(snifferStays, "no extra hop left on the gRPC path")
        try await channel.writeInbound(ByteBuffer(string: "more"))
        let later = try await channel.readInbound(as: ByteBuffer.self)
        XCTAssertEqual(later.map { String(buffer: $0) }, "more")
    }

    func testHTTP1GetsAnAnswerAndNoneOfGRPCsBytes() async throws {
        let channel = try await makeChannel()
        try await channel.writeInbound(ByteBuffer(string: "GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
        var answer = ""
        let deadline = ContinuousClock.now.advanced(by: .seconds(5))
        while !answer.contains("etcdcluster"), ContinuousClock.now < deadline {
            if let part = try await channel.readOutbound(as: IOData.self) {
                if case .byteBuffer(let buffer) = part { answer += String(buffer: buffer) }
            } else {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 200 OK\r\n"), answer)
        XCTAssertTrue(answer.hasSuffix(#"{"etcdserver":"9.9.9-test","etcdcluster":"3.4.0"}"#), answer)
        XCTAssertFalse(answer.contains(EarlyWriter.preface), "gRPC's preface never reaches an HTTP/1 client")
        let inbound = try await channel.readInbound(as: ByteBuffer.self)
        XCTAssertNil(inbound, "the request does not reach gRPC's handlers")
    }
}
