import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import KeelProto
import XCTest

@testable import KeelServer

/// The caller's gRPC deadline reaches the handler as the node call's deadline.
final class GRPCDeadlineTests: XCTestCase {
    /// A service whose Status answers, in `dbSize`, the milliseconds left until the deadline
    /// the route computed.
    private struct DeadlineEcho: RegistrableRPCService {
        let route: UnaryRoute

        func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
            route.register(&router, service: "etcdserverpb.Maintenance", method: "Status") { (_: Etcdserverpb_StatusRequest, deadline) in
                let left = deadline - ContinuousClock.now
                return Etcdserverpb_StatusResponse.with { $0.dbSize = left.components.seconds * 1_000 + left.components.attoseconds / 1_000_000_000_000_000 }
            }
        }
    }

    func testTimeoutHeaderBecomesTheDeadlineAndTheDefaultAppliesOtherwise() async throws {
        let transport = HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext)
        let server = GRPCServer(transport: transport, services: [DeadlineEcho(route: UnaryRoute(defaultTimeout: .seconds(7)))])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve() }
            defer { server.beginGracefulShutdown() }
            guard let port = try await transport.listeningAddress.ipv4?.port else { return XCTFail("no IPv4 port") }
            let clientTransport = try HTTP2ClientTransport.Posix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
            try await withGRPCClient(transport: clientTransport) { client in
                let maintenance = Etcdserverpb_Maintenance.Client(wrapping: client)
                var options = CallOptions.defaults
                options.timeout = .milliseconds(1_500)
                let withTimeout = try await maintenance.status(Etcdserverpb_StatusRequest(), options: options).dbSize
                XCTAssertLessThanOrEqual(withTimeout, 1_500)
                XCTAssertGreaterThan(withTimeout, 500, "the caller's 1.5 s, not the 7 s default")
                let withoutTimeout = try await maintenance.status(Etcdserverpb_StatusRequest()).dbSize
                XCTAssertGreaterThan(withoutTimeout, 5_000, "the 7 s default")
                XCTAssertLessThanOrEqual(withoutTimeout, 7_000)
            }
        }
    }

    func testDeadlineFromMetadata() {
        let before = ContinuousClock.now
        let deadline = UnaryRoute.deadline(metadata: ["grpc-timeout": "250m"], defaultTimeout: .seconds(9))
        XCTAssertGreaterThanOrEqual(deadline, before.advanced(by: .milliseconds(250)))
        XCTAssertLessThan(deadline, before.advanced(by: .seconds(1)))
        let fallback = UnaryRoute.deadline(metadata: ["grpc-timeout": "bogus"], defaultTimeout: .seconds(9), answerMargin: .seconds(1))
        XCTAssertGreaterThanOrEqual(fallback, before.advanced(by: .seconds(9)), "no margin off the server's own default")
        let margin = UnaryRoute.deadline(metadata: ["grpc-timeout": "2S"], defaultTimeout: .seconds(9), answerMargin: .milliseconds(300))
        XCTAssertGreaterThanOrEqual(margin, before.advanced(by: .milliseconds(1_700)))
        XCTAssertLessThan(margin, before.advanced(by: .milliseconds(1_800)), "the node gives up 300 ms before the caller")
        let short = UnaryRoute.deadline(metadata: ["grpc-timeout": "400m"], defaultTimeout: .seconds(9), answerMargin: .milliseconds(300))
        XCTAssertGreaterThanOrEqual(short, before.advanced(by: .milliseconds(300)), "at most a quarter of a short timeout goes to the margin")
    }
}
