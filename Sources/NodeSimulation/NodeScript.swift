import KeelNode
import KeelStorage
import Raft
import RaftSimulation

/// The node simulation driven step by step by a test instead of by random faults: the same nodes
/// (``NodeMachine`` on ``MemoryStore``), network, clocks and checker, with every random fault off,
/// so a test states what happens (isolate a node, crash it, write through it) and then lets
/// simulated time pass. Deterministic and fast: the node's wall-clock tests that need only the
/// state machine and the network live here instead (issue 12).
final class NodeScript {
    let run: NodeSimRun

    /// A healthy cluster of `nodes` (periods exact, a 1 ms network, no faults), started and given
    /// time to elect a leader; `configure` changes the parameters first.
    init(nodes: Int = 3, seed: UInt64 = 1, configure: @escaping @Sendable (inout NodeSimParameters) -> Void = { _ in }) {
        var options = NodeSimOptions(seed: seed, nodeCount: nodes)
        options.ttlLeases = false
        options.adjust = { parameters in
            parameters.tickDriftMilliseconds = 0
            parameters.delayMaxMilliseconds = 1
            parameters.dropPermille = 0
            parameters.duplicatePermille = 0
            parameters.syncDelayMaxMilliseconds = 0
            parameters.slowSyncPermille = 0
            parameters.failedSyncPermille = 0
            parameters.imageDelayMaxMilliseconds = 0
            parameters.crashPermille = 0
            parameters.pausePermille = 0
            parameters.partitionPermille = 0
            parameters.healPermille = 0
            parameters.clientOpPermille = 0
            parameters.clientCount = 1
            parameters.leaseReads = false
            parameters.pendingRequestsMax = 64
            configure(&parameters)
        }
        run = NodeSimRun(options)
        run.restartsCrashedNodes = false
        run.setUp()
    }

    /// The first property the checker found broken, if any.
    var violation: Violation? { run.result.violation }

    /// Lets `ticks` nominal ticks of simulated time pass.
    func advance(ticks: Int) {
        let end = run.time + ticks * NodeSimParameters.tickMilliseconds
        while let next = run.queue.nextTime, next <= end, run.result.violation == nil {
            let event = run.queue.pop()!
            run.time = event.time
            run.result.eventCount += 1
            run.handle(event.kind)
        }
        run.time = max(run.time, end)
    }

    /// Lets time pass a tick at a time until `condition` holds; false if it did not within `ticksMax`.
    func advance(until condition: () -> Bool, ticksMax: Int = 300) -> Bool {
        for _ in 0..<ticksMax {
            if condition() { return true }
            advance(ticks: 1)
        }
        return condition()
    }

    /// The node every running node follows, when they agree on one that leads.
    var leader: Int? {
        let machines = run.nodes.compactMap(\.machine)
        let leaders = Set(machines.map(\.status.leader))
        guard leaders.count == 1, let id = leaders.first, id != .none else { return nil }
        return run.nodes.firstIndex { $0.id == id && $0.machine?.status.role == .leader }
    }

    /// Waits for a leader every node agrees on.
    func waitForLeader(ticksMax: Int = 300) -> Int? {
        _ = advance(until: { leader != nil }, ticksMax: ticksMax)
        return leader
    }

    /// The machine of node `index` (nil while it is down).
    func machine(_ index: Int) -> NodeMachine? { run.nodes[index].machine }

    /// Starts a client operation of `kind` on `key` through node `index`; the client's value is
    /// `c0-<sequence>`. Returns the value it writes.
    @discardableResult
    func start(_ kind: SimClient.Kind, key: String, on index: Int) -> String {
        run.clients[0].node = index
        run.start(0, kind: kind, key: Array(key.utf8))
        return "c0-\(run.clients[0].sequence)"
    }

    /// Whether the client's operation has finished (answered, failed or given up).
    var clientIdle: Bool { run.clients[0].operation == nil }

    /// Writes through node `index` and waits for the answer; true if the write was acknowledged.
    func put(_ key: String, on index: Int, ticksMax: Int = 300) -> Bool {
        let acked = run.result.writesAcked
        start(.put, key: key, on: index)
        _ = advance(until: { clientIdle }, ticksMax: ticksMax)
        return run.result.writesAcked > acked
    }

    /// Waits until the nodes `indices` agree on a leader among them (the others may be cut off).
    func waitForLeader(among indices: [Int], ticksMax: Int = 300) -> Int? {
        var found: Int?
        _ = advance(
            until: {
                let leaders = Set(indices.compactMap { run.nodes[$0].machine?.status.leader })
                guard leaders.count == 1, let id = leaders.first, let index = indices.first(where: { run.nodes[$0].id == id }) else { return false }
                found = index
                return true
            }, ticksMax: ticksMax)
        return found
    }

    /// Grants a TTL lease through node `index` (which must know a leader); its id, nil if not granted.
    func grantLease(ttlSeconds: Int64, on index: Int, ticksMax: Int = 300) -> Int64? {
        guard let command = try? machine(index)?.admitLeaseGrant(id: 0, ttlSeconds: ttlSeconds) else { return nil }
        run.clients[0].lease = nil
        submit(command, kind: .leaseGrant, on: index, ticksMax: ticksMax)
        return run.clients[0].lease
    }

    /// Writes `key` attached to `lease` through node `index`; true once that node applied it.
    func putLeased(_ key: String, lease: Int64, on index: Int, ticksMax: Int = 300) -> Bool {
        let value = "leased-\(run.clients[0].sequence + 1)"
        submit(.put(PutRequest(key: Array(key.utf8), value: Array(value.utf8), lease: lease)), kind: .leasePut, leaseID: lease, on: index, ticksMax: ticksMax)
        return self.value(key, on: index) == value
    }

    /// A keepalive of `lease` through node `index` (to the primary lessor); true if acknowledged.
    func keepAlive(_ lease: Int64, on index: Int, ticksMax: Int = 300) -> Bool {
        let acked = run.result.keepalivesAcked
        begin(.keepAlive, command: .leaseCheckpoint([]), data: [], leaseID: lease, on: index)
        run.startKeepAlive(0)
        _ = advance(until: { clientIdle }, ticksMax: ticksMax)
        return run.result.keepalivesAcked > acked
    }

    /// Proposes `command` as the client's operation of `kind` through node `index`, and waits for it.
    private func submit(_ command: KVCommand, kind: SimClient.Kind, leaseID: Int64 = 0, on index: Int, ticksMax: Int) {
        guard let data = try? machine(index)?.admitWrite(command) else { return }
        begin(kind, command: command, data: data, leaseID: leaseID, on: index)
        run.submit(0)
        _ = advance(until: { clientIdle }, ticksMax: ticksMax)
    }

    /// Makes `command` the client's operation, as ``NodeSimRun/start(_:kind:key:)`` does for drawn ones.
    private func begin(_ kind: SimClient.Kind, command: KVCommand, data: [UInt8], leaseID: Int64, on index: Int) {
        run.clients[0].node = index
        run.clients[0].sequence += 1
        let value: [UInt8]
        if case .put(let put) = command { value = put.value } else { value = Array("script-\(run.clients[0].sequence)".utf8) }
        run.clients[0].operation = SimClient.Operation(
            kind: kind, key: [], value: value, command: command, data: data,
            deadline: run.time + NodeSimRun.requestTimeoutTicks * NodeSimParameters.tickMilliseconds, floorAtStart: 0, keyFloorAtStart: 0,
            generation: run.nodes[index].generation, startTime: run.time, leaseID: leaseID)
    }

    /// The value node `index` has applied for `key` (a serializable read of its store).
    func value(_ key: String, on index: Int) -> String? {
        guard case .range(let range)? = try? run.nodes[index].store.read(.range(RangeRequest(key: Array(key.utf8)))),
            let kv = range.kvs.first
        else { return nil }
        return String(decoding: kv.value, as: UTF8.self)
    }

    /// Cuts node `index` off from every other node.
    func isolate(_ index: Int) {
        var groups = run.nodes.indices.map { _ in 0 }
        groups[index] = 1
        run.groups = groups
    }

    /// Removes every partition.
    func heal() { run.groups = nil }

    /// Crashes node `index` (it loses what it had not synced) without restarting it.
    func crash(_ index: Int) { run.crash(index) }

    /// Restarts a crashed node on its disk.
    func restart(_ index: Int) { run.boot(index) }
}
