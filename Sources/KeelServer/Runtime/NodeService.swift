import KeelNode
import ServiceLifecycle

/// Runs the node: ticking until graceful shutdown, then stopped (waiting requests fail with
/// "server stopped", storage closed).
struct NodeService: Service {
    let node: KeelNode

    func run() async throws {
        await node.start()
        // Cancellation (a failed sibling) ends the wait too; the node is stopped either way.
        try? await gracefulShutdown()
        await node.stop()
    }
}
