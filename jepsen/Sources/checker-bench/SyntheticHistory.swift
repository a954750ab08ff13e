import JepsenChecker

/// A seeded generator so that every benchmark run checks the same synthetic histories.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Builds large linearizable histories by simulation: each operation gets a secret linearization
/// point inside its interval, results come from applying operations in that order, and a few clients
/// crash (`:info`, effect applied or not) and come back under a new process number, as in Jepsen.
enum SyntheticHistory {
    static let crashPercent = 2
    static let latencyTicksMax = 20

    private struct Planned {
        var process: Int
        var f: String
        var key: Int?
        var argument: Int
        var invoke: Int
        var complete: Int
        var point: Double
        var crashed: Bool
        var result: JepsenChecker.Value = .nil
        var failed = false
    }

    /// A CAS register history (`keys == nil`) or a per-key `kv` history with get/put over `keys` keys.
    static func make(operations count: Int, processes: Int, keys: Int?, seed: UInt64) -> [JepsenChecker.Operation] {
        var random = SplitMix(state: seed)
        var cursor = Array(repeating: 0, count: processes)
        var number = Array(0..<processes)
        var planned: [Planned] = []
        for _ in 0..<count {
            let slot = Int.random(in: 0..<processes, using: &random)
            let invoke = cursor[slot] + Int.random(in: 1...5, using: &random)
            let complete = invoke + Int.random(in: 1...latencyTicksMax, using: &random)
            let point = Double(invoke) + Double.random(in: 0.01..<0.99, using: &random) * Double(complete - invoke)
            let roll = Int.random(in: 0..<3, using: &random)
            let f = keys == nil ? ["read", "write", "cas"][roll] : ["get", "put", "put"][roll]
            planned.append(
                Planned(
                    process: number[slot], f: f, key: keys.map { Int.random(in: 0..<$0, using: &random) },
                    argument: Int.random(in: 0..<5, using: &random), invoke: invoke, complete: complete, point: point,
                    crashed: Int.random(in: 0..<100, using: &random) < crashPercent))
            cursor[slot] = complete
            if planned.last!.crashed { number[slot] += processes }
        }
        var registers: [Int: Int] = [:]
        for index in planned.indices.sorted(by: { planned[$0].point < planned[$1].point }) {
            let key = planned[index].key ?? 0
            let current = registers[key]
            switch planned[index].f {
            case "read", "get":
                planned[index].result = current.map { .int($0) } ?? .nil
            case "write", "put":
                if !planned[index].crashed || planned[index].argument % 2 == 0 { registers[key] = planned[index].argument }
            default:  // cas [argument, argument + 1]
                if current == planned[index].argument {
                    if !planned[index].crashed || planned[index].argument % 2 == 0 { registers[key] = planned[index].argument + 1 }
                } else {
                    planned[index].failed = true
                }
            }
        }
        var events: [(time: Int, order: Int, event: JepsenChecker.Operation)] = []
        for (index, op) in planned.enumerated() {
            func value(_ result: JepsenChecker.Value) -> JepsenChecker.Value {
                switch op.f {
                case "read": return result
                case "write": return .int(op.argument)
                case "cas": return .vector([.int(op.argument), .int(op.argument + 1)])
                case "get": return .vector([.int(op.key!), result])
                default: return .vector([.int(op.key!), .int(op.argument)])
                }
            }
            let type: OperationType = op.crashed ? .info : op.failed ? .fail : .ok
            events.append((op.invoke * 2 + 1, index, .init(process: .client(op.process), type: .invoke, f: op.f, value: value(.nil), time: op.invoke * 1000)))
            events.append((op.complete * 2, index, .init(process: .client(op.process), type: type, f: op.f, value: value(op.crashed ? .nil : op.result), time: op.complete * 1000)))
        }
        return events.sorted { ($0.time, $0.order) < ($1.time, $1.order) }.map(\.event)
    }
}
