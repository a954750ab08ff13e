import KeelStorage
import KeelTransport
import Raft

// The Ready cycle, split around the store write (raft-api.md, "Host loop").

extension NodeMachine {
    /// Whether a Ready can start now: the core has work and none is being written.
    public var hasReady: Bool { inFlight == nil && halted == nil && raft.hasReady }

    /// Takes the core's Ready. The driver sends `early` at once, runs `work` on the store (the
    /// machine keeps taking messages and proposals meanwhile: group commit), then calls
    /// ``finishReady(_:into:)``. Nil when there is nothing to do or a Ready is being written.
    public func startReady() -> ReadyStart? {
        guard hasReady else { return nil }
        let rd = raft.ready()
        var early: [PeerMessage] = []
        var late: [PeerMessage] = []
        var heldBack: [NodeID] = []
        for message in rd.messages {
            if images.coreImageMissing, message.type == .installSnapshot, let snapshot = message.snapshot, snapshot.data.isEmpty,
                snapshot.metadata.index > LogIndex(1)
            {
                // No image for the core's snapshot yet (see `restore`): compact to the restart image
                // first; the core retries once told this one failed.
                heldBack.append(message.to)
                snapshotsHeldBack += 1
                images.heldBack()
                continue
            }
            if Self.maySendBeforePersisting(message) {
                early.append(.raft(message))
            } else {
                late.append(.raft(message))
            }
        }
        var committed: [ReadyWork.Committed] = []
        committed.reserveCapacity(rd.committedEntries.count)
        var commands = 0
        for entry in rd.committedEntries {
            var confState: ConfState?
            var membership: MembershipChange?
            if entry.kind == .confChange {
                // Decided here, on the core's owner, in log order; the store records it. Only a change
                // the core accepts changes the members (every replica decides alike).
                let change = try? ConfChange(decoding: entry.data)
                if let change, (try? change.applied(to: raft.status.confState)) != nil {
                    membership = MembershipChange(decoding: change.context)
                }
                confState = change.map { raft.applyConfChange($0) }
            } else if !entry.data.isEmpty {
                commands += 1
            }
            committed.append(ReadyWork.Committed(entry: entry, confState: confState, membership: membership))
        }
        if commands > 0 { metrics.proposalsCommitted.increment(by: commands) }
        if let last = rd.committedEntries.last { metrics.etcd.proposalsCommitted.record(last.index.rawValue) }
        for state in rd.readStates {
            guard let readID = ReadContext.decode(state.context), reads[readID]?.index == nil else { continue }
            reads[readID]?.index = state.index
        }
        var readJobs: [ReadyWork.Read] = []
        for (readID, read) in reads.sorted(by: { $0.key < $1.key }) where !read.inFlight {
            guard let index = read.index else { continue }
            readJobs.append(ReadyWork.Read(id: readID, request: read.request, index: index))
        }
        for job in readJobs { reads[job.id]?.inFlight = true }
        let work = ReadyWork(
            node: id, snapshot: rd.snapshot, entries: rd.entries, hardState: rd.hardState, committed: committed, reads: readJobs,
            snapshotEntries: config.snapshotEntries, snapshotCatchUpEntries: images.compactNow ? 0 : config.snapshotCatchUpEntries,
            pendingImage: images.pendingMetadata, imageBuilding: images.isBuilding)
        inFlight = ReadyInFlight(ready: rd, late: late, heldBack: heldBack, reads: readJobs.map(\.id))
        return ReadyStart(early: early, work: work)
    }

    /// Which messages may leave before this node's Ready is written. Thesis §10.2.1: the leader may
    /// send its appends before writing them to its own disk; its own copy counts towards commitment
    /// only after `advance` (the core's rule). A heartbeat carries nothing that needs this node's
    /// disk (its term was persisted when it campaigned; its commit index comes from durable
    /// acknowledgements). Every other message (votes and their answers, append answers, read-index
    /// traffic, snapshots) promises something about this node's disk, so it waits for the write.
    public static func maySendBeforePersisting(_ message: Message) -> Bool {
        message.type == .appendEntries || message.type == .heartbeat
    }

    /// The store finished the Ready from ``startReady()`` (or failed: the node halts), at `now`.
    /// Releases the messages that waited for the write, answers requests, advances the core.
    public func finishReady(_ result: Result<ReadyOutcome, any Error>, now: Duration, into out: inout NodeOutput) {
        guard let flight = inFlight else { preconditionFailure("node: finished a Ready that was not started") }
        inFlight = nil
        let outcome: ReadyOutcome
        switch result {
        case .success(let done): outcome = done
        case .failure(let error):
            for readID in flight.reads { reads[readID]?.inFlight = false }
            halt(error, into: &out)
            return
        }
        out.messages += flight.late
        if outcome.synced { syncedWriteCount += 1 }
        if flight.ready.snapshot != nil { snapshotsInstalled += 1 }
        if outcome.appliedCommands > 0 { metrics.proposalsApplied.increment(by: outcome.appliedCommands) }
        appliedIndex = outcome.appliedIndex
        metrics.etcd.proposalsApplied.record(appliedIndex.rawValue)
        revision = outcome.revision
        compactedRevision = outcome.compactedRevision
        for (requestID, result) in outcome.results {
            completeProposal(requestID, result.mapError { RequestValidation.map($0) }, into: &out)
        }
        for (readID, result) in outcome.reads {
            completeRead(readID, result.mapError { RequestValidation.map($0) }, into: &out)
        }
        for readID in flight.reads { reads[readID]?.inFlight = false }
        leasesApplied(outcome.leaseEvents, reloaded: outcome.leasesReloaded, now: now, into: &out)
        membershipApplied(outcome, into: &out)
        raft.advance(flight.ready)
        compactToImage(outcome, installed: flight.ready.snapshot?.metadata.index, into: &out)
        for peer in flight.heldBack { raft.reportSnapshot(peer, succeeded: false) }
        // Deadlines are checked on ticks only: scanning every request per Ready would cost
        // O(requests) per fsync under load.
        observeLeader(into: &out)
        if !lessor.isPrimary { runLessor(now: now, into: &out) }
    }

    /// The core's contract: `compact(upTo: X, snapshotData:)` takes the image of the state at X
    /// (see ``ImageLifecycle``). The price of waiting for catch-up entries is holding a second image
    /// in memory meanwhile.
    private func compactToImage(_ outcome: ReadyOutcome, installed: LogIndex?, into out: inout NodeOutput) {
        if let source = outcome.imageSource {
            images.startBuilding(at: source.metadata.index)
            out.imageToBuild = source
        }
        if let installed { images.installed(at: installed) }
        guard let compacted = outcome.compacted else { return }
        let data = images.compacted(through: compacted)
        // Ignored by the core if it meanwhile took a newer snapshot from the leader.
        raft.compact(upTo: compacted.index, snapshotData: data)
        logCompactions += 1
    }

    /// The image from ``NodeOutput/imageToBuild`` (or the restart image) was read, or could not be.
    public func imageBuilt(_ result: Result<SnapshotImage, any Error>, into out: inout NodeOutput) {
        switch result {
        case .failure(let error):
            images.buildFailed()
            // The storage could not be read: as any storage failure.
            halt(error, into: &out)
        case .success(let image):
            if images.built(image, coreSnapshotIndex: raft.log.snapshot.index) { snapshotsTaken += 1 }
        }
    }
}
