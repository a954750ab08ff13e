import KeelStorage
import KeelTransport
import Raft

// The driver's half of the Ready cycle: it performs what the machine decided (NodeMachine+Ready).

extension KeelNode {
    func runReadyLoop() async {
        while running, halted == nil {
            if let start = machine.startReady() {
                await write(start)
            } else {
                await withCheckedContinuation { readyWakeup = $0 }
            }
        }
    }

    /// Something may have given the core work (a tick, a message, a proposal).
    func wakeReadyLoop() {
        guard let wakeup = readyWakeup else { return }
        readyWakeup = nil
        wakeup.resume()
    }

    /// One Ready: send what may go before the write, persist + apply on the storage thread (the
    /// actor stays free meanwhile, so proposals and messages keep entering the core: group commit),
    /// then perform what the machine releases.
    private func write(_ start: ReadyStart) async {
        if !start.early.isEmpty { network.send(start.early) }
        let work = start.work
        let beforeAppend = beforeAppend
        let result = await worker.perform { storage -> ReadyOutcome in
            let clock = ContinuousClock()
            let origin = clock.now
            return try work.run(on: storage, beforeAppend: beforeAppend, nanoseconds: { Self.nanoseconds(clock.now - origin) })
        }
        if case .success(let outcome) = result {
            if outcome.synced {
                metrics.fsyncDuration.recordNanoseconds(outcome.syncNanoseconds)
                metrics.etcd.walFsyncDuration.recordNanoseconds(outcome.syncNanoseconds)
            }
            metrics.applyDuration.recordNanoseconds(outcome.applyNanoseconds)
            metrics.etcd.backendCommitDuration.recordNanoseconds(outcome.applyNanoseconds)
            if let snapshot = work.snapshot, !snapshot.data.isEmpty {
                // Rare and telling (a member far behind, or a new one): etcd logs it too.
                logger.info(
                    "installed a snapshot from the leader",
                    metadata: [
                        "member": "\(DataDirectory.hex(id.rawValue))", "index": "\(snapshot.metadata.index)",
                        "bytes": "\(snapshot.data.count)",
                    ])
            }
        }
        var out = NodeOutput()
        machine.finishReady(result, now: now, into: &out)
        perform(out)
    }

    /// Performs one step's output: sends, answers, image reads.
    func perform(_ out: NodeOutput) {
        if !out.messages.isEmpty { network.send(out.messages) }
        for reply in out.replies {
            requestWaiters.removeValue(forKey: reply.id)?.resume(returning: reply.result)
        }
        for reply in out.leaseReplies {
            leaseWaiters.removeValue(forKey: reply.id)?.resume(returning: reply.result)
        }
        for (waiterID, found) in out.leaderWaits {
            leaderWaiters.removeValue(forKey: waiterID)?.resume(returning: found)
        }
        for (waiterID, result) in out.memberReplies {
            memberWaiters.removeValue(forKey: waiterID)?.resume(returning: result)
        }
        if let members = out.membersChanged { membersChanged(members) }
        if out.removedSelf { removedFromCluster() }
        if let source = out.imageToBuild { buildImage(source) }
        #if DEBUG
            // O(requests): checked on every step in debug builds (all tests), not in release.
            machine.checkInvariants()
        #endif
    }

    /// After a restart (``NodeMachine/restore(from:)``): reads the image at the applied index off
    /// the pipeline.
    func readRestartImage() {
        machine.startRestartImage()
        let worker = worker
        let beforeRead = beforeImageRead
        imageTask = Task {
            let opened = await worker.perform { $0.openImage() }
            switch opened {
            case .success(let source): self.imageBuilt(await ImageBuilder.build(source, beforeRead: beforeRead))
            case .failure(let error): self.imageBuilt(.failure(error))
            }
        }
    }

    /// Reads the image off the actor and off the storage thread; the Ready loop keeps going.
    private func buildImage(_ source: ImageSource) {
        let beforeRead = beforeImageRead
        imageTask = Task { self.imageBuilt(await ImageBuilder.build(source, beforeRead: beforeRead)) }
    }

    private func imageBuilt(_ result: Result<SnapshotImage, any Error>) {
        imageTask = nil
        // A node stopping closes its storage under the reader: not a storage failure.
        if stopped, case .failure = result { return }
        var out = NodeOutput()
        machine.imageBuilt(result, into: &out)
        perform(out)
        wakeReadyLoop()
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
