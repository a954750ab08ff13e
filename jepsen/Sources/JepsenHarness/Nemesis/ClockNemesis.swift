// `clock`: per-node clock faults through Debian's libfaketime, preloaded into each server. One
// control file per node holds "+OFFSET xRATE"; libfaketime re-reads it on every clock read
// (FAKETIME_NO_CACHE), and it applies to the wall clock and to the monotonic and boot-time clocks
// alike, which is what kvd's timers and leases run on.
//
// The faults keep each clock monotonic, as a real one is: offsets only jump forward (as after a
// stalled VM), and a rate change is compensated so that the clock does not jump when its speed
// changes. libfaketime computes fake = start + OFFSET + (now - start) × RATE from the moment the
// library loaded in the process; the harness knows that moment only within a window after it
// spawned the process, so it rounds every compensation towards a small forward step.
import Foundation
import JepsenChecker
import Synchronization

/// Bumps clocks forward, makes them run fast or slow, or strobes their speed, on chosen members.
public final class ClockNemesis: Nemesis {
    /// `clock`.
    public let name = "clock"
    /// libfaketime's multi-threaded library on Debian.
    public static let libraryPath = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
    /// Rates a fault draws from: slow and fast clocks.
    static let rates = [0.5, 0.75, 0.9, 1.1, 1.5, 2.0]
    /// How long after the harness spawned the process libfaketime may load, at most (two execs,
    /// `ip netns exec` and `env`, then the dynamic loader): bounds the forward step a rate change adds.
    static let loadWindowSeconds = 0.3
    /// How long after the control file is replaced the process may first read it.
    static let fileReadDelaySeconds = 0.05
    /// How often a strobe flips a clock's speed. Each flip may step the clock forward by up to
    /// ``loadWindowSeconds`` × 1.5 (the uncertainty of the compensation), so flips are kept few.
    static let strobePeriod: Duration = .seconds(1)
    /// The largest forward bump, in seconds.
    static let bumpSecondsMax = 5.0

    private let clocks = Mutex([String: FakeClock]())
    private let strobe = Mutex<Task<Void, Never>?>(nil)

    /// The state of one node's fake clock.
    public struct FakeClock: Sendable, Equatable {
        /// Seconds added.
        public var offset: Double
        /// Fake seconds per real second.
        public var rate: Double
    }

    /// A clock nemesis for servers started with `launch`; refuses a server libfaketime cannot reach.
    public init(launch: ServerLaunch) throws(HarnessError) {
        guard launch.fakeClockLibrary != nil else {
            throw HarnessError(.cannotRun, "the clock nemesis needs the servers started through libfaketime")
        }
        if Self.isGoProgram(launch.binary) {
            throw HarnessError(
                .unsupported,
                "nemesis 'clock' cannot reach \(launch.binary): it is a Go program, and Go reads the clock through "
                    + "the vDSO, never through libc, so libfaketime's preload does not change its time")
        }
    }

    /// Whether the executable carries Go's build-information marker.
    static func isGoProgram(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        // The raw byte 0xff, then the text: Go's build-information header.
        let marker = Data([0xff]) + Data(" Go buildinf:".utf8)
        var tail = Data()
        while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            let window = tail + chunk
            if window.range(of: marker) != nil { return true }
            tail = window.suffix(marker.count)
        }
        return false
    }

    /// The control-file text for a clock.
    static func spec(_ clock: FakeClock) -> String {
        String(format: "%+.6f x%.6f\n", clock.offset, clock.rate)
    }

    /// Writes a node's control file atomically (a reader never sees half a line).
    static func write(_ clock: FakeClock, to node: ServerNode) throws {
        guard let path = node.clockFilePath else { return }
        let temporary = path + ".tmp"
        try spec(clock).write(toFile: temporary, atomically: false, encoding: .utf8)
        guard rename(temporary, path) == 0 else {
            throw HarnessError(.setupFailed, "cannot replace \(path): \(errnoText())")
        }
    }

    /// Seconds since libfaketime loaded in the node's process, as an interval that surely holds it:
    /// it loaded after the harness spawned the process (the upper end, plus the time until the
    /// process next reads the control file) and, on this machine, within ``loadWindowSeconds`` of it.
    static func elapsedSinceLoad(_ node: ServerNode) -> ClosedRange<Double>? {
        guard let spawned = node.spawnedAt else { return nil }
        let sinceSpawn = ContinuousClock.now - spawned
        let seconds = Double(sinceSpawn.components.seconds) + Double(sinceSpawn.components.attoseconds) / 1e18
        let newest = max(0, seconds - loadWindowSeconds)
        return newest...(seconds + fileReadDelaySeconds)
    }

    /// The clock after changing its rate to `rate` now, without a backward jump.
    static func changingRate(_ clock: FakeClock, to rate: Double, elapsed: ClosedRange<Double>) -> FakeClock {
        // fake = start + offset + e × rate; keeping fake unchanged needs offset' = offset + e × (rate - rate').
        // Unsure of e, pick the end of its range that leaves the new clock ahead, never behind.
        let delta = clock.rate - rate
        let e = delta >= 0 ? elapsed.upperBound : elapsed.lowerBound
        return FakeClock(offset: clock.offset + e * delta, rate: rate)
    }

    /// The most one rate change can step a clock forward: the compensation's uncertainty
    /// (``loadWindowSeconds`` plus ``fileReadDelaySeconds``) times the largest change of rate.
    static var rateChangeStepMax: Double {
        (loadWindowSeconds + fileReadDelaySeconds) * (rates.max()! - rates.min()!)
    }

    /// `bound` widened by this nemesis's faults in `history`: their windows, and the fastest and
    /// slowest rates it draws.
    public static func leaseBound(_ bound: LeaseChecker.Bound, widenedFor history: History) -> LeaseChecker.Bound {
        var widened = bound
        widened.clockFaults = faultWindows(in: history)
        widened.clockRateMax = rates.max()!
        widened.clockRateMin = rates.min()!
        return widened
    }

    /// The clock faults of a history, as windows from each `start-clock` to its `stop-clock`, each with
    /// the most it can have stepped a clock forward. A description this nemesis did not write counts as
    /// an unbounded step, so a checker that relies on the clocks judges nothing in that window.
    public static func faultWindows(in history: History) -> [LeaseChecker.ClockFault] {
        var windows: [LeaseChecker.ClockFault] = []
        var open: (start: Double, text: String)?
        func close(at end: Double) {
            guard let started = open else { return }
            windows.append(
                LeaseChecker.ClockFault(
                    start: started.start, end: end, forwardSeconds: forwardSteps(described: started.text, lasting: end - started.start),
                    changesRates: !started.text.hasPrefix("bump: ")))
            open = nil
        }
        for index in history.nemesisEvents {
            let event = history.events[index]
            let seconds = Double(event.time ?? 0) / 1e9
            switch event.f {
            case "start-clock":
                close(at: seconds)
                if case .string(let text) = event.value { open = (seconds, text) } else { open = (seconds, "") }
            case "stop-clock":
                close(at: seconds)
            default:
                continue
            }
        }
        close(at: .infinity)
        return windows
    }

    /// The most a fault described by ``inject(into:random:)`` steps one clock forward in `seconds`:
    /// every bump (summed, since leases move between members), and a compensation step per rate change.
    static func forwardSteps(described text: String, lasting seconds: Double) -> Double {
        let nodes = Double(text.split(whereSeparator: { $0 == " " || $0 == "," }).filter { $0.first == "n" && $0.dropFirst().allSatisfy(\.isNumber) }.count)
        if text.hasPrefix("bump: ") {
            // "bump: n1 +2.345s, n3 +0.5s"
            var total = 0.0
            for part in text.dropFirst("bump: ".count).split(separator: ",") {
                guard let amount = part.split(separator: "+").last.flatMap({ Double($0.trimmingCharacters(in: CharacterSet(charactersIn: "s "))) })
                else { return .infinity }
                total += amount
            }
            return total
        }
        if text.hasPrefix("rate: ") {
            // One change when injected, one at the heal, per node.
            return 2 * nodes * rateChangeStepMax
        }
        if text.hasPrefix("strobe: ") {
            let periodSeconds = Double(strobePeriod.components.seconds)
            let flips = (seconds.isFinite ? (seconds / periodSeconds).rounded(.up) : 0) + 2
            return seconds.isFinite ? flips * nodes * rateChangeStepMax : .infinity
        }
        return .infinity
    }

    private func current(_ node: ServerNode) -> FakeClock {
        clocks.withLock { $0[node.name] ?? FakeClock(offset: 0, rate: 1) }
    }

    /// Sets a node's rate (compensated) and offset bump, and records it.
    public func set(_ node: ServerNode, rate: Double? = nil, bump: Double = 0) throws {
        precondition(bump >= 0, "clock bumps go forward only")
        var clock = current(node)
        if let rate, rate != clock.rate {
            let elapsed = Self.elapsedSinceLoad(node) ?? 0...0
            clock = Self.changingRate(clock, to: rate, elapsed: elapsed)
        }
        clock.offset += bump
        try Self.write(clock, to: node)
        let updated = clock
        clocks.withLock { $0[node.name] = updated }
    }

    /// Draws a fault: a forward bump, a fast or slow rate, or a strobe, on one node, a minority or all.
    public func inject(into cluster: TestCluster, random: inout SplitMix64) async throws -> String {
        let nodes = cluster.nodes.filter { $0.pid != nil }
        guard !nodes.isEmpty else { return "no running node" }
        let count = [1, max(1, (nodes.count - 1) / 2), nodes.count].randomElement(using: &random)!
        let targets = pick(count, of: nodes, random: &random)
        switch Int.random(in: 0..<3, using: &random) {
        case 0:
            var parts: [String] = []
            for node in targets {
                let seconds = (Double.random(in: 0.1...Self.bumpSecondsMax, using: &random) * 1000).rounded() / 1000
                try set(node, bump: seconds)
                parts.append("\(node.name) +\(seconds)s")
            }
            return "bump: " + parts.joined(separator: ", ")
        case 1:
            var parts: [String] = []
            for node in targets {
                let rate = Self.rates.randomElement(using: &random)!
                try set(node, rate: rate)
                parts.append("\(node.name) x\(rate)")
            }
            return "rate: " + parts.joined(separator: ", ")
        default:
            // Unstructured because it outlives inject(); shutDown() and heal() cancel and await it.
            let task = Task {
                var fast = true
                while !Task.isCancelled {
                    for node in targets { try? self.set(node, rate: fast ? 2.0 : 0.5) }
                    fast.toggle()
                    try? await Task.sleep(for: Self.strobePeriod)
                }
            }
            strobe.withLock { $0 = task }
            return "strobe: \(names(targets)) flip between x2 and x0.5 every \(Self.strobePeriod)"
        }
    }

    /// Stops a running strobe.
    public func shutDown() async {
        if let task = strobe.withLock({ $0.take() }) {
            task.cancel()
            await task.value
        }
    }

    /// Stops any strobe and sets every clock back to real speed; offsets stay (no backward jump).
    public func heal(_ cluster: TestCluster) async throws -> String {
        await shutDown()
        var parts: [String] = []
        for node in cluster.nodes where node.clockFilePath != nil {
            if current(node).rate != 1 { try set(node, rate: 1) }
            let clock = current(node)
            if clock.offset != 0 { parts.append(String(format: "%@ %+.3fs", node.name, clock.offset)) }
        }
        return "clocks at real speed" + (parts.isEmpty ? "" : "; offsets kept: " + parts.joined(separator: ", "))
    }
}
