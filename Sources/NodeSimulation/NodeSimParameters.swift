import RaftSimulation

/// Everything a seed decides before the run starts (swarm testing: each seed draws its own fault
/// rates, so the seeds together explore many mixes). Rates are per mille per tick of the global
/// clock unless named otherwise; times are in milliseconds of simulated time.
public struct NodeSimParameters: Sendable, CustomStringConvertible {
    /// The nominal tick period; each node's period drifts above it.
    public static let tickMilliseconds = 10
    /// Voters (fixed membership).
    public var nodeCount: Int
    /// Each node's tick period is drawn from tickMilliseconds...tickMilliseconds + this.
    public var tickDriftMilliseconds: Int
    /// One-way message latency is drawn from 1...this.
    public var delayMaxMilliseconds: Int
    /// Messages lost, per mille of messages sent.
    public var dropPermille: Int
    /// Messages delivered twice, per mille of messages sent.
    public var duplicatePermille: Int
    /// A Ready's disk write takes 0...this.
    public var syncDelayMaxMilliseconds: Int
    /// Share of writes that take ten times longer (a slow disk), per mille.
    public var slowSyncPermille: Int
    /// Share of synced writes that fail (the node halts, then restarts), per mille.
    public var failedSyncPermille: Int
    /// Reading a state-machine image takes 0...this.
    public var imageDelayMaxMilliseconds: Int
    /// Crash of a random node (losing what it had not synced), per mille per tick.
    public var crashPermille: Int
    /// Pause of a random node (a stopped process; its missed ticks fire at once when it resumes).
    public var pausePermille: Int
    /// A new partition, per mille per tick.
    public var partitionPermille: Int
    /// Healing the partition, per mille per tick.
    public var healPermille: Int
    /// Client operations started per tick, per mille (each client has at most one outstanding).
    public var clientOpPermille: Int
    /// Share of operations that are linearizable reads, per mille.
    public var readPermille: Int
    /// Share of reads that are serializable, per mille.
    public var serializablePermille: Int
    /// Share of writes that are compare-and-set transactions, per mille.
    public var casPermille: Int
    /// A node opens an image once this many entries were applied past its snapshot.
    public var snapshotEntries: UInt64
    /// Entries kept after an image before the log is compacted to it.
    public var snapshotCatchUpEntries: UInt64
    /// The node's bound on waiting requests (small values exercise refusals).
    public var pendingRequestsMax: Int
    /// Clients.
    public var clientCount: Int
    /// Keys the clients use.
    public var keyCount: Int
    /// Linearizable reads served from the leader's lease (thesis §6.4.1) instead of ReadIndex.
    public var leaseReads: Bool
    /// The lease's clock-drift bound, in ticks.
    public var leaseClockDriftBoundTicks: Int
    /// Per mille of client operations that are TTL-lease operations (grant, keepalive, a put
    /// attached to the lease, revoke); 0: the seed grants no lease.
    public var ttlLeasePermille: Int
    /// The lessor's checkpoint interval (a lease's is at most half its TTL anyway).
    public var leaseCheckpointIntervalMilliseconds: Int

    /// Draws the parameters of `seed`; `nodeCount` overrides the drawn cluster size.
    public init(seed: UInt64, nodeCount override: Int? = nil) {
        var r = SimRandom(seed: seed ^ 0x0DE5_1300_0DE5_1300)
        nodeCount = [3, 3, 5, 5, 4][r.below(5)]
        if let override { nodeCount = override }
        tickDriftMilliseconds = r.below(3)
        delayMaxMilliseconds = [1, 3, 8, 25][r.below(4)]
        dropPermille = [0, 10, 50, 150][r.below(4)]
        duplicatePermille = [0, 10, 50][r.below(3)]
        syncDelayMaxMilliseconds = [0, 2, 10, 40][r.below(4)]
        slowSyncPermille = [0, 0, 20, 100][r.below(4)]
        failedSyncPermille = [0, 0, 0, 2, 10][r.below(5)]
        imageDelayMaxMilliseconds = [0, 20, 200][r.below(3)]
        crashPermille = [0, 2, 6, 15][r.below(4)]
        pausePermille = [0, 2, 6][r.below(3)]
        partitionPermille = [0, 4, 10, 25][r.below(4)]
        healPermille = [10, 30, 80][r.below(3)]
        clientOpPermille = [200, 500, 1000][r.below(3)]
        readPermille = [200, 400, 600][r.below(3)]
        serializablePermille = [0, 200, 500][r.below(3)]
        casPermille = [0, 300][r.below(2)]
        snapshotEntries = [15, 40, 10_000][r.below(3)]
        snapshotCatchUpEntries = [0, 5, 20][r.below(3)]
        pendingRequestsMax = [2, 64][r.below(2)]
        clientCount = 2 + r.below(6)
        keyCount = 1 + r.below(4)
        // Drawn last, so the knobs above keep their values for every earlier seed number.
        leaseReads = r.chance(permille: 500)
        leaseClockDriftBoundTicks = 2
        if leaseReads {
            // The lease lasts (E - 1 - bound) of the leader's ticks after the heartbeat a quorum
            // answered; a voter holds off (E - 1) of its own. With E = 10 and bound 2 the slowest
            // period may be up to 9/7 of the fastest: 12 ms against 10 is within, 13 is beyond.
            tickDriftMilliseconds = 2
            pausePermille = max(pausePermille, 2)
        }
        ttlLeasePermille = [0, 100, 250][r.below(3)]
        leaseCheckpointIntervalMilliseconds = [100, 300, 5_000][r.below(3)]
    }

    /// Tick periods differ by up to `tickDriftMilliseconds` (beyond the drift bound, the test of
    /// the checker sets a larger one).
    public static func leaseDriftToleratedMilliseconds(boundTicks: Int, electionTicks: Int = 10) -> Int {
        tickMilliseconds * (electionTicks - 1) / (electionTicks - 1 - boundTicks) - tickMilliseconds
    }

    /// One line per seed, for the failure report.
    public var description: String {
        "nodes=\(nodeCount) drift=\(tickDriftMilliseconds) delay=\(delayMaxMilliseconds) drop=\(dropPermille) dup=\(duplicatePermille) "
            + "sync=\(syncDelayMaxMilliseconds) slow=\(slowSyncPermille) failSync=\(failedSyncPermille) image=\(imageDelayMaxMilliseconds) "
            + "crash=\(crashPermille) pause=\(pausePermille) partition=\(partitionPermille) heal=\(healPermille) ops=\(clientOpPermille) "
            + "reads=\(readPermille) serializable=\(serializablePermille) cas=\(casPermille) snapshotEvery=\(snapshotEntries) "
            + "catchUp=\(snapshotCatchUpEntries) pendingMax=\(pendingRequestsMax) clients=\(clientCount) keys=\(keyCount) "
            + "reads=\(leaseReads ? "lease(bound \(leaseClockDriftBoundTicks))" : "readindex") "
            + "ttlLeases=\(ttlLeasePermille) checkpointEvery=\(leaseCheckpointIntervalMilliseconds)ms"
    }
}
