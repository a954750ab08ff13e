import Foundation
import NIOCore
import NIOSSL
import NIOTLS

/// The latest TLS failure on one endpoint's connections, so that a call that never got a
/// connection can say why ("the server refused this client's certificate") instead of only that
/// the dial timed out: gRPC reports a failed handshake as a connection that never became ready.
///
/// `@unchecked Sendable`: the only state is `failure`, and every access holds `lock`.
final class TLSFailureRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var failure: String?

    /// The latest failure explained, nil when none since the last successful handshake.
    var latest: String? {
        lock.lock()
        defer { lock.unlock() }
        return failure
    }

    func record(_ error: any Error) {
        let explained = Self.explain(error)
        lock.lock()
        defer { lock.unlock() }
        failure = explained
    }

    func clear() {
        lock.lock()
        defer { lock.unlock() }
        failure = nil
    }

    /// Which side refused, from BoringSSL's reason: a verification failure here means the
    /// server's certificate; an alert from the server means it refused ours (or had none it liked).
    static func explain(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "TLS: the server's certificate failed verification (not signed by --cacert, or not for this host): \(text)"
        }
        if text.contains("ALERT") {
            return "TLS: the server refused the handshake, most likely this client's certificate (--cert/--key missing or not signed by the server's trusted CA): \(text)"
        }
        if text.contains("WRONG_VERSION_NUMBER") || text.contains("PACKET_LENGTH_TOO_LONG") || text.contains("HTTP_REQUEST") {
            return "TLS: the server does not speak TLS on this port (use http://): \(text)"
        }
        return "TLS handshake failed: \(text)"
    }

    /// A handler placed right after the TLS handler: it sees the TLS layer's errors before gRPC's
    /// handlers turn them into a bare "unavailable", and its successful handshakes.
    func handler() -> some ChannelInboundHandler { Handler(recorder: self) }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = NIOAny
        let recorder: TLSFailureRecorder

        init(recorder: TLSFailureRecorder) {
            self.recorder = recorder
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case TLSUserEvent.handshakeCompleted = event { recorder.clear() }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            if error is NIOSSLError || error is BoringSSLError { recorder.record(error) }
            context.fireErrorCaught(error)
        }
    }
}
