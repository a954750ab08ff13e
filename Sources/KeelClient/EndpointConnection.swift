import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import NIOSSL

/// The gRPC client of one endpoint, and a count of the HTTP/2 streams it has opened.
///
/// The count is how the client tells "never reached the server" from "reached it and failed":
/// gRPC opens a stream only on a ready connection, so an attempt during which the count did not
/// move never sent its request, and is safe to send elsewhere even when it changes data.
final class EndpointConnection: Sendable {
    let endpoint: Endpoint
    let grpc: GRPCClient<HTTP2ClientTransport.Posix>
    let streamsOpened: StreamCounter
    /// Why the latest TLS handshake failed, for endpoints that use TLS.
    let tlsFailures = TLSFailureRecorder()

    init(endpoint: Endpoint, tls: KeelClientTLS?) throws {
        let counter = StreamCounter()
        let recorder = tlsFailures
        let target: any ResolvableTarget =
            if endpoint.isIPv4 {
                .ipv4(address: endpoint.host, port: endpoint.port)
            } else if endpoint.isIPv6 {
                .ipv6(address: endpoint.host, port: endpoint.port)
            } else {
                .dns(host: endpoint.host, port: endpoint.port)
            }
        let config = HTTP2ClientTransport.Posix.Config.defaults { config in
            config.channelDebuggingCallbacks.onCreateHTTP2Stream = { channel in
                counter.increment()
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            // After a refused connection the channel waits out this backoff before dialling again,
            // failing calls fast meanwhile; a short cap lets a restarted server be found quickly.
            config.backoff.max = Self.reconnectBackoffMax
            if endpoint.usesTLS {
                config.channelDebuggingCallbacks.onCreateTCPConnection = { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let ssl = try channel.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self)
                        try channel.pipeline.syncOperations.addHandler(recorder.handler(), position: .after(ssl))
                    }
                }
            }
        }
        let security: HTTP2ClientTransport.Posix.TransportSecurity =
            endpoint.usesTLS ? .tls(Self.transportTLS(tls ?? KeelClientTLS())) : .plaintext
        let transport = try HTTP2ClientTransport.Posix(target: target, transportSecurity: security, config: config)
        self.endpoint = endpoint
        self.grpc = GRPCClient(transport: transport)
        self.streamsOpened = counter
    }

    /// grpc-swift's TLS settings for etcdctl's flags.
    static func transportTLS(_ tls: KeelClientTLS) -> HTTP2ClientTransport.Posix.TransportSecurity.TLS {
        .defaults { config in
            if let certificate = tls.certificateFile, let key = tls.keyFile {
                config.certificateChain = [.file(path: certificate, format: .pem)]
                config.privateKey = .file(path: key, format: .pem)
            }
            if let ca = tls.trustedCAFile {
                config.trustRoots = .certificates([.file(path: ca, format: .pem)])
            }
            config.serverCertificateVerification = tls.skipServerVerification ? .noVerification : .fullVerification
        }
    }

    /// The longest wait between two dials of a refusing endpoint.
    static let reconnectBackoffMax: Duration = .seconds(1)
}

/// A counter bumped from NIO event loops and read from tasks.
///
/// `@unchecked Sendable`: the only state is `value`, and every access holds `lock`.
final class StreamCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    func increment() {
        lock.lock()
        defer { lock.unlock() }
        count += 1
    }

    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }
}
