import KeelTransport
import Logging
import ServiceLifecycle

/// A peer network with a lifetime: the TCP transport in kvd; tests of a one-member server may
/// pass another.
public protocol LifecyclePeerNetwork: PeerNetwork {
    /// Binds the peer listener and starts dialling peers.
    func start() async throws
    /// Closes every connection and the listener.
    func shutdown() async
}

/// Runs the peer network for the service group: started first, shut down last.
struct PeerNetworkService: Service {
    let network: any LifecyclePeerNetwork
    let url: ServerURL

    func run() async throws {
        do {
            try await network.start()
        } catch {
            throw StartupError("cannot listen on \(url) (\(ConfigSetting.listenPeerURLs.flag)): \(error)")
        }
        try? await gracefulShutdown()
        await network.shutdown()
    }
}
