import KeelNode
import ServiceLifecycle

/// Runs the node: ticking until graceful shutdown, then stopped (waiting requests fail with
/// "server stopped", storage closed). A member removed from the cluster stops the server, as
/// etcd's does: it has no part to play any more.
struct NodeService: Service {
    let node: KeelNode

    func run() async throws {
        await node.start()
        let removed = await withTaskGroup(of: Bool.self) { group in
            // Cancellation (a failed sibling) ends the wait too; the node is stopped either way.
            group.addTask {
                try? await gracefulShutdown()
                return false
            }
            group.addTask {
                await node.waitUntilRemoved()
                return true
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        await node.stop()
        if removed { throw StartupError("the member has been permanently removed from the cluster") }
    }
}
