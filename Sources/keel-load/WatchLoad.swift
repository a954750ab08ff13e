import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import KeelProto

/// `keel-load --op watch`: many watchers on one key, spread over streams and members, and writers
/// putting to that key; measures how fast and how soon the changes reach every watcher.
///
/// Each value carries the moment its put was sent (nanoseconds on this process's monotonic clock),
/// so a watcher's delivery latency is its receive time minus that. Works against any server of
/// etcd's v3 API, so etcd and kvd are measured by the same code.
struct WatchLoad {
    let endpoints: [WatchTarget]
    let watchers: Int
    let streams: Int
    let puts: Int
    let writers: Int
    /// Puts per second across all writers; nil for as fast as they go (closed loop).
    let rate: Double?
    let valueBytes: Int
    let key: String
    let timeLimit: Duration

    /// Watchers a load may open (one stream's worth per 100, as etcd's benchmark spreads them).
    static let watchersMax = 100_000
    /// Events a run may expect in all, so the latency samples fit in memory.
    static let eventsMax = 50_000_000

    let clock = ContinuousClock()

    func run() async throws -> String {
        let origin = clock.now
        let sink = EventSink(watchers: watchers, origin: origin)
        let perStream = (watchers + streams - 1) / streams
        var report = ""
        try await withThrowingTaskGroup(of: Void.self) { group in
            for stream in 0..<streams {
                let count = min(perStream, watchers - stream * perStream)
                guard count > 0 else { break }
                let endpoint = endpoints[stream % endpoints.count]
                group.addTask { try await watchStream(endpoint: endpoint, count: count, sink: sink) }
            }
            try await sink.waitCreated(timeLimit: timeLimit)
            let cpuBefore = Self.cpuSeconds()
            let writeStart = clock.now
            let (acknowledged, failed) = try await write(origin: origin)
            let writeElapsed = writeStart.duration(to: clock.now)
            let expected = acknowledged * watchers
            let delivered = try await sink.waitEvents(expected, timeLimit: timeLimit)
            let deliveryElapsed = writeStart.duration(to: sink.lastReceive ?? clock.now)
            let cpu = Self.cpuSeconds() - cpuBefore
            group.cancelAll()
            report = Self.report(
                watchers: watchers, streams: streams, acknowledged: acknowledged, failed: failed, writeElapsed: writeElapsed,
                delivered: delivered, expected: expected, deliveryElapsed: deliveryElapsed, latencies: sink.latencies(), cpuSeconds: cpu,
                rate: rate)
        }
        return report
    }

    private func watchStream(endpoint: WatchTarget, count: Int, sink: EventSink) async throws {
        let key = Data(key.utf8)
        let transport = try HTTP2ClientTransport.Posix(
            target: .dns(host: endpoint.host, port: endpoint.port), transportSecurity: .plaintext)
        try await withGRPCClient(transport: transport) { client in
            let request = StreamingClientRequest<Etcdserverpb_WatchRequest> { writer in
                for _ in 0..<count { try await writer.write(.with { $0.createRequest = .with { $0.key = key } }) }
                try await Task.sleep(for: .seconds(86_400))
            }
            try await Etcdserverpb_Watch.Client(wrapping: client).watch(request: request) { response in
                for try await message in response.messages { sink.receive(message, at: clock.now) }
            }
        }
    }

    /// Puts from `writers` clients, closed loop or paced at `rate`; returns (acknowledged, failed).
    private func write(origin: ContinuousClock.Instant) async throws -> (Int, Int) {
        let budget = PutBudget(count: puts, runLimit: timeLimit)
        let pause = rate.map { Duration.seconds(Double(writers) / $0) }
        return try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for writer in 0..<writers {
                let endpoint = endpoints[writer % endpoints.count]
                group.addTask {
                    let transport = try HTTP2ClientTransport.Posix(
                        target: .dns(host: endpoint.host, port: endpoint.port), transportSecurity: .plaintext)
                    return try await withGRPCClient(transport: transport) { client in
                        let kv = Etcdserverpb_KV.Client(wrapping: client)
                        var (ok, failed) = (0, 0)
                        var next = clock.now
                        while budget.next() != nil {
                            if let pause {
                                try await clock.sleep(until: next)
                                next = next.advanced(by: pause)
                            }
                            let sent = origin.duration(to: clock.now)
                            var value = String(EventSink.nanoseconds(sent))
                            if value.count < valueBytes { value += String(repeating: " ", count: valueBytes - value.count) }
                            do {
                                _ = try await kv.put(.with {
                                    $0.key = Data(key.utf8)
                                    $0.value = Data(value.utf8)
                                })
                                ok += 1
                            } catch {
                                failed += 1
                            }
                        }
                        return (ok, failed)
                    }
                }
            }
            var total = (0, 0)
            for try await (ok, failed) in group { total = (total.0 + ok, total.1 + failed) }
            return total
        }
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    static func report(
        watchers: Int, streams: Int, acknowledged: Int, failed: Int, writeElapsed: Duration, delivered: Int, expected: Int,
        deliveryElapsed: Duration, latencies: [Int64], cpuSeconds: Double, rate: Double?
    ) -> String {
        func seconds(_ duration: Duration) -> Double { Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18 }
        let sorted = latencies.sorted()
        func quantile(_ q: Double) -> String {
            guard !sorted.isEmpty else { return "-" }
            return String(format: "%.2f", Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]) / 1e6)
        }
        var out = "watchers: \(watchers) on \(streams) streams; puts: \(acknowledged) ok, \(failed) failed in \(String(format: "%.3f", seconds(writeElapsed))) s"
        out += rate.map { " (paced at \(String(format: "%.0f", $0))/s)" } ?? " (closed loop)"
        out += "\nevents: \(delivered) of \(expected) delivered in \(String(format: "%.3f", seconds(deliveryElapsed))) s\n"
        out += "events/s: \(String(format: "%.0f", Double(delivered) / max(seconds(deliveryElapsed), 1e-9)))\n"
        out += "delivery latency ms: p50 \(quantile(0.5))  p99 \(quantile(0.99))  max \(quantile(1.0))\n"
        out += "load generator CPU: \(String(format: "%.2f", cpuSeconds)) s (\(String(format: "%.2f", cpuSeconds * 1e6 / Double(max(delivered, 1)))) µs per event)\n"
        return out
    }
}

/// Where every watcher's responses land: created counts, events received, latencies.
///
/// `@unchecked Sendable`: every field is read and written under `lock`.
final class EventSink: @unchecked Sendable {
    private let lock = NSLock()
    private let watchers: Int
    private let origin: ContinuousClock.Instant
    private var created = 0
    private var events = 0
    private var samples: [Int64] = []
    private(set) var lastReceive: ContinuousClock.Instant?

    init(watchers: Int, origin: ContinuousClock.Instant) {
        self.watchers = watchers
        self.origin = origin
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }

    func receive(_ message: Etcdserverpb_WatchResponse, at now: ContinuousClock.Instant) {
        let received = Self.nanoseconds(origin.duration(to: now))
        var latencies: [Int64] = []
        latencies.reserveCapacity(message.events.count)
        for event in message.events {
            let text = String(decoding: event.kv.value.prefix(24), as: UTF8.self).trimmingCharacters(in: .whitespaces)
            if let sent = Int64(text) { latencies.append(received - sent) }
        }
        lock.lock()
        defer { lock.unlock() }
        if message.created { created += 1 }
        events += message.events.count
        samples += latencies
        if !message.events.isEmpty { lastReceive = now }
    }

    func latencies() -> [Int64] {
        lock.lock()
        defer { lock.unlock() }
        return samples
    }

    func waitCreated(timeLimit: Duration) async throws {
        let giveUp = ContinuousClock.now.advanced(by: timeLimit)
        while locked({ created }) < watchers {
            guard ContinuousClock.now < giveUp else {
                throw WatchLoadError("only \(locked { created }) of \(watchers) watchers were created in time")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits until `expected` events arrived or the time limit passes; returns how many arrived.
    func waitEvents(_ expected: Int, timeLimit: Duration) async throws -> Int {
        let giveUp = ContinuousClock.now.advanced(by: timeLimit)
        while locked({ events }) < expected, ContinuousClock.now < giveUp { try await Task.sleep(for: .milliseconds(10)) }
        return locked { events }
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }
}

struct WatchLoadError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One member's client address.
struct WatchTarget: Sendable {
    var host: String
    var port: Int
}
