import KeelStorage

/// Watches: history reads for watchers that are behind, on the storage thread.
extension KeelNode {
    /// Runs catch-up reads from ``WatchStream/drain()`` on the storage thread, where changes are
    /// applied, so that each watcher rejoins the synced group with nothing missed. Throws
    /// ``KeelError/stopped`` once the node has stopped.
    public nonisolated func catchUp(_ jobs: [WatchCatchUp]) async throws {
        guard !jobs.isEmpty else { return }
        let hub = watchHub
        try await worker.perform { storage in
            for job in jobs { hub.catchUp(job, from: storage.stateMachine) }
        }.get()
    }
}
