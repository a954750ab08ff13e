// Clients: each issues one operation at a time, a write (propose a unique value) or a read
// (ReadIndex, or a lease read in lease seeds), and records when it began and what it saw.

import Raft

extension Simulation {
    /// An operation not answered within this many nominal ticks is abandoned by its client.
    static let clientTimeoutTicks = 5

    func clientSchedule() {
        for c in 0..<Self.clientCount {
            if clientBusyUntil[c] >= 0 {
                if now > clientBusyUntil[c] { abandon(c) } else { continue }
            }
            guard random.chance(permille: params.clientOpPermille) else { continue }
            let read = random.chance(permille: params.readPermille)
            let target = pickTarget(c, read: read)
            guard let h = target, let node = h.node, h.isRunning(at: now) else { continue }
            if read {
                startRead(c, on: h, node: node)
            } else {
                startWrite(c, on: h, node: node)
            }
        }
    }

    /// A client operation started on `h` while it holds a Ready it has not synced and advanced:
    /// kvd accepts requests at any moment, so the core must cope with proposals and reads that
    /// arrive between `ready()` and `advance()` (the leader may count its own new entries only once
    /// they are synced, and not the ones proposed after the Ready it is syncing).
    func startOperationBetweenReadyAndAdvance(on h: SimHost) {
        guard let node = h.node, h.isRunning(at: now) else { return }
        guard let c = (0..<Self.clientCount).first(where: { clientBusyUntil[$0] < 0 }) else { return }
        if random.chance(permille: params.readPermille) {
            startRead(c, on: h, node: node)
        } else {
            startWrite(c, on: h, node: node)
        }
    }

    /// Proposes `count` values no client waits for (their outcome is never observed): entries on a
    /// leader that is about to lose its leadership become a divergent suffix on its followers.
    func proposeUnobserved(on h: SimHost, count: Int) {
        guard let node = h.node, count > 0 else { return }
        for _ in 0..<count {
            let v = nextValue
            nextValue += 1
            guard (try? node.propose(SimStateMachine.encodeValue(v))) != nil else { break }
            record(.propose, h.id, v)
        }
        pump(h)
    }

    private func pickTarget(_ c: Int, read: Bool) -> SimHost? {
        if let steer = oldLeaderReads, now < steer.until {
            // Reads interleaved with a change of leader: a read on the old leader must not be
            // served from a lease that ended, or a round confirmed by stale answers, while writes
            // commit on the new leader (thesis §6.4, §6.4.1).
            if read, let old = host(steer.oldLeader), old.isRunning(at: now) { return old }
            if !read, let newest = currentLeader { return newest }
        }
        if leaderHint[c] != .none && random.chance(permille: 500), let h = host(leaderHint[c]) { return h }
        let all = hosts.compactMap { $0 }
        return all.isEmpty ? nil : all[random.below(all.count)]
    }

    func startWrite(_ c: Int, on h: SimHost, node: RaftNode) {
        let v = nextValue
        nextValue += 1
        do {
            try node.propose(SimStateMachine.encodeValue(v))
        } catch {
            leaderHint[c] = error.leader
            return
        }
        leaderHint[c] = h.id
        pendingWrites[v] = (c, h.id, h.incarnation)
        clientBusyUntil[c] = now + Self.clientTimeoutTicks * SimParameters.tickUnits
        record(.propose, h.id, v)
        pump(h)
    }

    func startRead(_ c: Int, on h: SimHost, node: RaftNode) {
        let id = nextReadID
        nextReadID += 1
        let required = reads.readBegins()
        do {
            try node.readIndex(context: SimStateMachine.encodeValue(id))
        } catch {
            leaderHint[c] = error.leader
            return
        }
        pendingReads[id] = (c, h.id, h.incarnation, required)
        clientBusyUntil[c] = now + Self.clientTimeoutTicks * SimParameters.tickUnits
        record(.readBegin, h.id, id, required.rawValue)
        pump(h)
    }

    /// The client gives up: the write may still commit (its outcome is unknown), the read is void.
    private func abandon(_ c: Int) {
        clientBusyUntil[c] = -1
        // Dictionary order is never observed here: we only delete entries of client `c`.
        for (v, w) in pendingWrites where w.client == c { pendingWrites[v] = nil }
        for (id, r) in pendingReads where r.client == c { pendingReads[id] = nil }
    }

    /// A read index came back to `h`: serve now if the state machine is far enough, else wait.
    func readIndexArrived(_ rs: ReadState, on h: SimHost) {
        guard rs.context.count == 8 else { return }
        let id = SimStateMachine.decodeValue(rs.context[...])
        guard let r = pendingReads[id], r.node == h.id, r.incarnation == h.incarnation else { return }
        h.readsWaiting.append((id, rs.index))
    }

    func serveWaitingReads(_ h: SimHost) {
        guard !h.readsWaiting.isEmpty else { return }
        var still: [(id: UInt64, index: LogIndex)] = []
        for w in h.readsWaiting {
            guard w.index <= h.appliedIndex else {
                still.append(w)
                continue
            }
            guard let r = pendingReads[w.id] else { continue }
            pendingReads[w.id] = nil
            clientBusyUntil[r.client] = -1
            reads.readServed(id: w.id, node: h.id, required: r.required, servedIndex: h.appliedIndex)
            result.readsServed += 1
            record(.readServed, h.id, w.id, h.appliedIndex.rawValue)
        }
        h.readsWaiting = still
    }
}
