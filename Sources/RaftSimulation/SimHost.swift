// One simulated machine: a RaftNode (absent while crashed), its disk, its volatile state machine,
// its drifting clock and the reads it is waiting to serve.

import Raft

/// A simulated host for one node id.
final class SimHost {
    let id: NodeID
    let config: RaftConfig
    /// Nil while crashed.
    var node: RaftNode?
    /// Bumped on every restart so replies to an earlier life are recognised.
    var incarnation = 0
    var durable: DurableState
    /// The Ready written but not yet synced, and when the sync completes.
    var unsynced: Ready?
    /// The core's count of lease-confirmed reads when last looked at.
    var leaseReadsSeen: UInt64 = 0
    var syncAt = 0
    /// The state machine: client values in log order, up to `appliedIndex`.
    var values: [UInt64] = []
    var appliedIndex: LogIndex = .zero
    /// Whether a liveness marker value is in `values`.
    var appliedMarker = false
    /// Time units between this node's ticks (its clock drift).
    let tickPeriod: Int
    var nextTickAt: Int
    /// Paused (not running) while `now < pausedUntil`; its ticks catch up on resume.
    var pausedUntil = 0
    /// Crashed hosts restart at this time.
    var restartAt = 0
    /// Reads whose index arrived, waiting for the state machine to reach it.
    var readsWaiting: [(id: UInt64, index: LogIndex)] = []
    /// The term in which this node was last seen leading (trace bookkeeping).
    var ledTerm: Term = .zero

    init(id: NodeID, config: RaftConfig, durable: DurableState, tickPeriod: Int, now: Int) {
        self.id = id
        self.config = config
        self.durable = durable
        self.tickPeriod = tickPeriod
        nextTickAt = now + tickPeriod
    }

    var isUp: Bool { node != nil }

    func isRunning(at now: Int) -> Bool { node != nil && now >= pausedUntil }

    /// Boots a node from the disk; the state machine is rebuilt from the snapshot.
    func start(random: SimRandom, now: Int) {
        precondition(node == nil)
        node = RaftNode(config: config, restored: durable.restored, random: random)
        incarnation += 1
        unsynced = nil
        leaseReadsSeen = 0
        readsWaiting = []
        ledTerm = .zero
        values = SimStateMachine.decodeSnapshot(durable.snapshot?.data ?? [])
        appliedIndex = durable.snapshot?.metadata.index ?? .zero
        appliedMarker = values.contains { $0 >= Simulation.markerBase }
        nextTickAt = now + tickPeriod
    }

    /// Loses the node and everything not synced.
    func crash() {
        node = nil
        unsynced = nil
        readsWaiting = []
    }

    /// The earliest time this host has something to do.
    var wakeAt: Int {
        if node == nil { return restartAt }
        var t = nextTickAt
        if unsynced != nil { t = min(t, syncAt) }
        return max(t, pausedUntil)
    }
}
