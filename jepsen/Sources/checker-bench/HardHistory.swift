import JepsenChecker

/// Small histories that are hard for the search, shaped like Jepsen's cas-register tests under
/// partitions: few reads, so few states are pinned, and many writes and cas operations that crash
/// (`:info`). A crashed client comes back under a new process number, so crashed operations stay
/// open to the end of the history and their number only grows: the search must consider every subset
/// of them and every place each one may have taken effect.
///
/// Built by simulation, like `SyntheticHistory`: every operation gets a secret linearization point
/// inside its interval (a crashed one takes effect there or not at all, by coin toss), and results
/// come from applying the operations in that order, so the history is linearizable. The invalid
/// variant then changes the value of a read to one nobody wrote, which the search can only refute by
/// exhausting every configuration before that read (so the later the read, the harder the case).
struct HardHistory {
    /// Operations invoked in all.
    var operations: Int
    /// Clients running at once.
    var processes: Int
    /// Percentage of writes and cas operations that crash.
    var crashPercent: Int
    /// Percentage of operations that are reads.
    var readPercent: Int
    /// Values are drawn from `0..<values`.
    var values: Int
    /// With keys, values are `[key value]` tuples (Jepsen's `independent`), keys drawn uniformly.
    var keys: Int?
    /// Make the history non-linearizable: the first read invoked at or after this fraction of the
    /// operations returns a value nobody wrote (see above).
    var corruptReadAt: Double? = nil
    var seed: UInt64

    static let latencyTicksMax = 30
    static let thinkTicksMax = 4

    private struct Planned {
        var process: Int
        var f: String
        var key: Int
        var argument: Int
        var argument2: Int
        var invoke: Int
        var complete: Int
        var point: Double
        var crashed: Bool
        var takesEffect: Bool
        var result: Value = .nil
        var failed = false
    }

    func make() -> [JepsenChecker.Operation] {
        precondition(processes > 0 && operations > 0 && values > 1)
        var random = SplitMix(state: seed)
        var cursor = Array(repeating: 0, count: processes)
        var number = Array(0..<processes)
        var planned: [Planned] = []
        for _ in 0..<operations {
            let slot = Int.random(in: 0..<processes, using: &random)
            let invoke = cursor[slot] + Int.random(in: 1...Self.thinkTicksMax, using: &random)
            let complete = invoke + Int.random(in: 1...Self.latencyTicksMax, using: &random)
            let point = Double(invoke) + Double.random(in: 0.01..<0.99, using: &random) * Double(complete - invoke)
            let isRead = Int.random(in: 0..<100, using: &random) < readPercent
            let f = isRead ? "read" : Bool.random(using: &random) ? "write" : "cas"
            let crashed = !isRead && Int.random(in: 0..<100, using: &random) < crashPercent
            planned.append(
                Planned(
                    process: number[slot], f: f, key: keys.map { Int.random(in: 0..<$0, using: &random) } ?? 0,
                    argument: Int.random(in: 0..<values, using: &random),
                    argument2: Int.random(in: 0..<values, using: &random), invoke: invoke, complete: complete,
                    point: point, crashed: crashed, takesEffect: !crashed || Bool.random(using: &random)))
            cursor[slot] = complete
            if crashed { number[slot] += processes }
        }
        var registers: [Int: Int] = [:]
        for index in planned.indices.sorted(by: { planned[$0].point < planned[$1].point }) {
            let op = planned[index]
            let current = registers[op.key] ?? 0
            switch op.f {
            case "read":
                planned[index].result = .int(current)
            case "write":
                if op.takesEffect { registers[op.key] = op.argument }
            default:
                if current != op.argument {
                    planned[index].failed = true
                } else if op.takesEffect {
                    registers[op.key] = op.argument2
                }
            }
        }
        if let corruptReadAt {
            let first = Int(corruptReadAt * Double(planned.count))
            let read = planned.indices.first { $0 >= first && planned[$0].f == "read" && !planned[$0].crashed }
            precondition(read != nil, "no read to corrupt after operation \(first)")
            planned[read!].result = .int(values + 1000)
        }
        var events: [(time: Int, order: Int, event: JepsenChecker.Operation)] = []
        for (index, op) in planned.enumerated() {
            func wrap(_ value: Value) -> Value { keys == nil ? value : .vector([.int(op.key), value]) }
            let input: Value =
                switch op.f {
                case "read": .nil
                case "write": .int(op.argument)
                default: .vector([.int(op.argument), .int(op.argument2)])
                }
            let output = op.f == "read" ? op.result : input
            let type: OperationType = op.crashed ? .info : op.failed ? .fail : .ok
            events.append(
                (op.invoke * 2 + 1, index,
                 .init(process: .client(op.process), type: .invoke, f: op.f, value: wrap(input), time: op.invoke * 1000)))
            events.append(
                (op.complete * 2, index,
                 .init(process: .client(op.process), type: type, f: op.f, value: wrap(op.crashed ? input : output),
                       time: op.complete * 1000)))
        }
        return events.sorted { ($0.time, $0.order) < ($1.time, $1.order) }.map(\.event)
    }
}
