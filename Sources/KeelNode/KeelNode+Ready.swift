import KeelStorage
import KeelTransport
import Raft

// The Ready loop: the host half of the Raft handshake (raft-api.md, "Host loop").

extension KeelNode {
    func runReadyLoop() async {
        while running, halted == nil {
            if raft.hasReady {
                await readyCycle()
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

    /// One Ready: send the leader's appends, persist + apply on the storage thread (the actor stays
    /// free meanwhile, so proposals and messages keep entering the core: group commit), then send
    /// the other messages, answer waiters, advance.
    func readyCycle() async {
        let rd = raft.ready()
        var early: [PeerMessage] = []
        var late: [PeerMessage] = []
        var heldBack: [NodeID] = []
        for message in rd.messages {
            if imageMissing, message.type == .installSnapshot, let snapshot = message.snapshot, snapshot.data.isEmpty,
                snapshot.metadata.index > LogIndex(1)
            {
                // No image for the core's snapshot yet (see `restore`): compact to the restart image
                // first; the core retries once told this one failed.
                heldBack.append(message.to)
                snapshotsHeldBack += 1
                compactPendingNow = true
                continue
            }
            // Thesis §10.2.1: the leader may send its appends before writing them to its own disk;
            // its own copy counts towards commitment only after `advance` (the core's rule). A
            // heartbeat carries nothing that needs this node's disk (its term was persisted when
            // it campaigned; its commit index comes from durable acknowledgements). Every other
            // message (votes, responses) promises something about our disk: after the write.
            if message.type == .appendEntries || message.type == .heartbeat {
                early.append(.raft(message))
            } else {
                late.append(.raft(message))
            }
        }
        if !early.isEmpty { network.send(early) }
        var committed: [ReadyWork.Committed] = []
        committed.reserveCapacity(rd.committedEntries.count)
        var commands = 0
        for entry in rd.committedEntries {
            var confState: ConfState?
            if entry.kind == .confChange {
                // Decided here, on the core's owner, in log order; the storage thread records it.
                confState = (try? ConfChange(decoding: entry.data)).map { raft.applyConfChange($0) }
            } else if !entry.data.isEmpty {
                commands += 1
            }
            committed.append(ReadyWork.Committed(entry: entry, confState: confState))
        }
        if commands > 0 { metrics.proposalsCommitted.increment(by: commands) }
        for state in rd.readStates {
            guard let readID = ReadContext.decode(state.context), reads[readID]?.index == nil else { continue }
            reads[readID]?.index = state.index
        }
        var readJobs: [ReadyWork.Read] = []
        for (readID, waiter) in reads where !waiter.inFlight {
            guard let index = waiter.index else { continue }
            readJobs.append(ReadyWork.Read(id: readID, request: waiter.request, index: index))
        }
        for job in readJobs { reads[job.id]?.inFlight = true }
        let work = ReadyWork(
            node: id, snapshot: rd.snapshot, entries: rd.entries, hardState: rd.hardState, committed: committed, reads: readJobs,
            snapshotEntries: config.snapshotEntries, snapshotCatchUpEntries: compactPendingNow ? 0 : config.snapshotCatchUpEntries,
            pendingImage: pendingImage?.metadata, imageBuilding: imageTask != nil, beforeImageRead: beforeImageRead,
            beforeAppend: beforeAppend)
        let outcome: ReadyOutcome
        switch await worker.perform({ try work.run(on: $0) }) {
        case .success(let done): outcome = done
        case .failure(let error):
            halt(error)
            return
        }
        if !late.isEmpty { network.send(late) }
        record(outcome, installedSnapshot: rd.snapshot != nil)
        for (requestID, result) in outcome.results {
            completeProposal(requestID, result.mapError { RequestValidation.map($0) })
        }
        for (readID, result) in outcome.reads {
            completeRead(readID, result.mapError { RequestValidation.map($0) })
        }
        for job in readJobs { reads[job.id]?.inFlight = false }
        raft.advance(rd)
        compactToImage(outcome, installed: rd.snapshot?.metadata.index)
        for peer in heldBack { raft.reportSnapshot(peer, succeeded: false) }
        // Deadlines are checked on ticks only: scanning every waiter per Ready would cost O(waiters)
        // per fsync under load.
        observeLeader()
    }

    /// The core's contract: `compact(upTo: X, snapshotData:)` takes the image of the state at X.
    /// Compacting right away to the applied index would leave no catch-up entries, and an image
    /// at an older index cannot be made later (the state machine only moves forward). So the
    /// image taken at X is kept here until `snapshotCatchUpEntries` more entries are applied; the
    /// storage thread then compacts the stored log through X and the core compacts to X with
    /// that same image. Until then the core keeps (and sends) its previous image, still exact for
    /// its own index. The price is holding a second image in memory meanwhile.
    private func compactToImage(_ outcome: ReadyOutcome, installed: LogIndex?) {
        if let source = outcome.imageSource { buildImage(source) }
        if let installed {
            // The core holds the leader's image now.
            imageMissing = false
            compactPendingNow = false
            // A leader's snapshot replaced the state machine and log: an older image is out of date.
            if let pending = pendingImage, pending.metadata.index <= installed { pendingImage = nil }
        }
        guard let compacted = outcome.compacted, let image = pendingImage, image.metadata.index == compacted.index else { return }
        pendingImage = nil
        // Ignored by the core if it meanwhile took a newer snapshot from the leader.
        raft.compact(upTo: image.metadata.index, snapshotData: image.data)
        logCompactions += 1
        imageMissing = false
        compactPendingNow = false
    }

    /// After a restart (``restore(_:)``): reads the image at the applied index off the pipeline.
    func readRestartImage() {
        let worker = worker
        imageTask = Task {
            let opened = await worker.perform { storage in
                let machine = storage.stateMachine
                return ImageSource(
                    writer: machine.makeSnapshot(),
                    metadata: SnapshotMetadata(index: machine.appliedIndex, term: machine.appliedTerm, confState: machine.membership),
                    beforeRead: nil)
            }
            switch opened {
            case .success(let source): self.imageBuilt(await ImageBuilder.build(source))
            case .failure(let error): self.imageBuilt(.failure(error))
            }
        }
    }

    /// Reads the image off the actor and off the storage thread; the Ready loop keeps going.
    private func buildImage(_ source: ImageSource) {
        imageTask = Task {
            let result = await ImageBuilder.build(source)
            self.imageBuilt(result)
        }
    }

    private func imageBuilt(_ result: Result<SnapshotImage, any Error>) {
        imageTask = nil
        switch result {
        case .failure(let error):
            // The storage could not be read: as any storage failure.
            if halted == nil && !stopped { halt(error) }
        case .success(let image):
            // A leader's snapshot may have overtaken it meanwhile.
            guard image.metadata.index > raft.log.snapshot.index else { return }
            pendingImage = image
            snapshotsTaken += 1
        }
    }

    private func record(_ outcome: ReadyOutcome, installedSnapshot: Bool) {
        if outcome.synced {
            syncedWriteCount += 1
            metrics.fsyncDuration.recordNanoseconds(outcome.syncNanoseconds)
        }
        if installedSnapshot { snapshotsInstalled += 1 }
        metrics.applyDuration.recordNanoseconds(outcome.applyNanoseconds)
        if outcome.appliedCommands > 0 { metrics.proposalsApplied.increment(by: outcome.appliedCommands) }
        appliedIndex = outcome.appliedIndex
        revision = outcome.revision
        compactedRevision = outcome.compactedRevision
    }
}
