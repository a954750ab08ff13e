import ArgumentParser
import Foundation
import KeelClient

/// keel-load: a bounded concurrent put load against a running cluster; prints puts per second and latencies.
@main
struct KeelLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keel-load",
        abstract: "Puts (or gets, or lease grants) from concurrent clients for a bounded count and time; prints ops/s and latency.")

    @Option(help: "Comma-separated endpoints (default: $KVCTL_ENDPOINTS, else 127.0.0.1:2379).")
    var endpoints: String?
    @Option(help: "Concurrent clients, each with its own connections (1...\(Self.clientsMax)).")
    var clients = 16
    @Option(name: .customLong("value-bytes"), help: "Size of each value in bytes (0...\(Self.valueBytesMax)).")
    var valueBytes = 256
    @Option(help: "Puts in all (1...\(Self.countMax)); the run stops at the count or the duration, whichever comes first.")
    var count = 10_000
    @Option(help: "Longest run (Go syntax: 30s, 2m; at most 10m).")
    var duration = "30s"
    @Option(help: "Distinct keys written (1...\(Self.countMax)).")
    var keys = 1000
    @Option(name: .customLong("key-prefix"), help: "Prefix of every key written.")
    var keyPrefix = "keel-load/"
    @Option(name: .customLong("command-timeout"), help: "Timeout of one put (Go syntax).")
    var commandTimeout = "5s"
    @Option(help: "put; get: linearizable reads of the keys (write them first with a put run); grant: lease grants; or watch: --watchers watchers on one key while --clients writers put --count values to it.")
    var op = "put"
    @Option(help: "With --op watch: watchers on the key (1...\(WatchLoad.watchersMax)), spread over the endpoints.")
    var watchers = 10_000
    @Option(help: "With --op watch: gRPC streams the watchers share (1...\(WatchLoad.watchersMax)).")
    var streams = 100
    @Option(help: "With --op watch: puts per second in all (0 for as fast as the writers go).")
    var rate: Double = 0
    @Option(help: "TTL in seconds of each lease granted by --op grant (1...\(Self.ttlSecondsMax)).")
    var ttl = 3600

    static let clientsMax = 1024
    static let valueBytesMax = 16 << 20
    static let countMax = 10_000_000
    static let durationMax: Duration = .seconds(600)
    /// etcd's largest TTL (9,000,000,000 s is its limit; a day is plenty for a load).
    static let ttlSecondsMax = 86_400

    func validate() throws {
        guard (1...Self.clientsMax).contains(clients) else { throw ValidationError("--clients must be in 1...\(Self.clientsMax)") }
        guard (0...Self.valueBytesMax).contains(valueBytes) else {
            throw ValidationError("--value-bytes must be in 0...\(Self.valueBytesMax)")
        }
        guard (1...Self.countMax).contains(count) else { throw ValidationError("--count must be in 1...\(Self.countMax)") }
        guard (1...Self.countMax).contains(keys) else { throw ValidationError("--keys must be in 1...\(Self.countMax)") }
        guard ["put", "get", "grant", "watch"].contains(op) else { throw ValidationError("--op must be put, get, grant or watch, not '\(op)'") }
        if op == "watch" {
            guard (1...WatchLoad.watchersMax).contains(watchers), (1...watchers).contains(streams) else {
                throw ValidationError("--watchers must be in 1...\(WatchLoad.watchersMax) and --streams in 1...--watchers")
            }
            guard count * watchers <= WatchLoad.eventsMax else {
                throw ValidationError("--count times --watchers must be at most \(WatchLoad.eventsMax) (events kept for latencies)")
            }
            guard rate >= 0 else { throw ValidationError("--rate must not be negative") }
        }
        guard (1...Self.ttlSecondsMax).contains(ttl) else { throw ValidationError("--ttl must be in 1...\(Self.ttlSecondsMax)") }
    }

    func run() async throws {
        let runLimit = try GoDuration.parse(duration)
        guard runLimit > .zero, runLimit <= Self.durationMax else {
            throw ValidationError("--duration must be positive and at most \(EtcdctlPrinter.goDuration(Self.durationMax))")
        }
        let endpointText = endpoints ?? ProcessInfo.processInfo.environment["KVCTL_ENDPOINTS"] ?? "127.0.0.1:2379"
        let configuration = KeelClientConfiguration(
            endpoints: try Endpoint.parseList(endpointText), commandTimeout: try GoDuration.parse(commandTimeout))
        if op == "watch" {
            let load = WatchLoad(
                endpoints: configuration.endpoints.map { WatchTarget(host: $0.host, port: $0.port) }, watchers: watchers, streams: streams, puts: count, writers: clients,
                rate: rate > 0 ? rate : nil, valueBytes: valueBytes, key: keyPrefix + "watched", timeLimit: runLimit)
            print("keel-load: \(watchers) watchers on \(streams) streams, \(clients) writers, \(count) puts against \(endpointText)")
            print(try await load.run(), terminator: "")
            return
        }
        let value = Data(repeating: UInt8(ascii: "v"), count: valueBytes)
        let budget = PutBudget(count: count, runLimit: runLimit)
        let reads = op == "get"
        let grants = op == "grant"
        let what = grants ? "lease grants (TTL \(ttl) s)" : reads ? "linearizable gets" : "\(valueBytes)-byte puts"
        print("keel-load: \(clients) clients, \(what), up to \(count) or \(duration) against \(endpointText)")
        let ttl = Int64(ttl)

        let clock = ContinuousClock()
        let start = clock.now
        let results = try await withThrowingTaskGroup(of: ClientResult.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    try await KeelClient.withClient(configuration) { client in
                        var result = ClientResult()
                        while let sequence = budget.next() {
                            let key = Data("\(keyPrefix)\(sequence % keys)".utf8)
                            let putStart = clock.now
                            do {
                                if grants {
                                    _ = try await client.leaseGrant(ttl: ttl)
                                } else if reads {
                                    _ = try await client.range(try EtcdctlRequests.range(key: key, rangeEnd: nil, options: GetOptions()))
                                } else {
                                    _ = try await client.put(EtcdctlRequests.put(key: key, value: value))
                                }
                                result.latencies.append(putStart.duration(to: clock.now))
                            } catch let error as KeelClientError {
                                result.failures[error.message, default: 0] += 1
                            }
                        }
                        return result
                    }
                }
            }
            var all = ClientResult()
            for try await result in group {
                all.latencies += result.latencies
                all.failures.merge(result.failures, uniquingKeysWith: +)
            }
            return all
        }
        let elapsed = start.duration(to: clock.now)
        print(Report(results: results, elapsed: elapsed, noun: grants ? "grants" : reads ? "gets" : "puts").text, terminator: "")
        if results.latencies.isEmpty { throw ExitCode.failure }
    }
}

/// What one client measured.
struct ClientResult: Sendable {
    var latencies: [Duration] = []
    /// Failed puts by error message.
    var failures: [String: Int] = [:]
}

/// Hands out put sequence numbers until the count is reached or the run time is over.
///
/// `@unchecked Sendable`: `issued` is the only mutable state, and every access holds `lock`.
final class PutBudget: @unchecked Sendable {
    private let lock = NSLock()
    private var issued = 0
    private let count: Int
    private let deadline: ContinuousClock.Instant

    init(count: Int, runLimit: Duration) {
        self.count = count
        self.deadline = ContinuousClock.now.advanced(by: runLimit)
    }

    func next() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard issued < count, ContinuousClock.now < deadline else { return nil }
        issued += 1
        return issued - 1
    }
}

/// The printed summary.
struct Report {
    var results: ClientResult
    var elapsed: Duration
    var noun = "puts"

    var text: String {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let sorted = results.latencies.sorted()
        let failed = results.failures.values.reduce(0, +)
        var out = "\(noun): \(sorted.count) ok, \(failed) failed in \(String(format: "%.3f", seconds)) s\n"
        out += "\(noun)/s: \(String(format: "%.1f", Double(sorted.count) / max(seconds, 1e-9)))\n"
        if !sorted.isEmpty {
            func quantile(_ q: Double) -> String {
                milliseconds(sorted[min(sorted.count - 1, Int((Double(sorted.count) * q).rounded(.down)))])
            }
            out += "latency ms: p50 \(quantile(0.5))  p99 \(quantile(0.99))  max \(milliseconds(sorted[sorted.count - 1]))\n"
        }
        for (message, number) in results.failures.sorted(by: { $0.value > $1.value }).prefix(Self.failureKindsShownMax) {
            out += "failed \(number)x: \(message)\n"
        }
        return out
    }

    /// How many kinds of failure the summary lists.
    static let failureKindsShownMax = 5

    private func milliseconds(_ duration: Duration) -> String {
        let value = Double(duration.components.seconds) * 1e3 + Double(duration.components.attoseconds) / 1e15
        return String(format: "%.2f", value)
    }
}
