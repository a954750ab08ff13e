import ArgumentParser
import Foundation
import KeelClient

/// `endpoint ...`.
struct EndpointCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "endpoint", abstract: "Endpoint commands.",
        subcommands: [EndpointStatusCommand.self, EndpointHealthCommand.self, EndpointHashKVCommand.self])
}

/// `endpoint status`: asks each endpoint for its own status; like etcdctl, reports the ones that
/// fail on standard error, prints the others, and exits with 1 if any failed.
struct EndpointStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Prints the status of each endpoint given with --endpoints.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let printer = EtcdctlPrinter(format: global.writeOut)
        let texts = try global.endpointTexts()
        var anyFailed = false
        try await global.withClient { client in
            var statuses: [EndpointStatus] = []
            for (text, endpoint) in zip(texts, client.endpoints) {
                do {
                    statuses.append(EndpointStatus(endpoint: text, status: try await client.status(at: endpoint)))
                } catch {
                    anyFailed = true
                    FileHandle.standardError.write(
                        Data("Failed to get the status of endpoint \(text) (\(CommandFailure(error).message))\n".utf8))
                }
            }
            emit(printer.endpointStatus(statuses))
        }
        if anyFailed { throw ExitCode(CommandFailure.callFailedExitCode) }
    }
}

/// `endpoint health`: a linearizable read of the key "health" on each endpoint, timed.
struct EndpointHealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health", abstract: "Checks the health of each endpoint given with --endpoints.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let printer = EtcdctlPrinter(format: global.writeOut)
        let texts = try global.endpointTexts()
        var reports: [EndpointHealth] = []
        try await global.withClient { client in
            reports = await withTaskGroup(of: (Int, EndpointHealth).self) { group in
                for (index, (text, endpoint)) in zip(texts, client.endpoints).enumerated() {
                    group.addTask {
                        var request = RangeRequest()
                        request.key = Data("health".utf8)
                        let clock = ContinuousClock()
                        let start = clock.now
                        do {
                            _ = try await client.range(request, at: endpoint)
                            return (index, EndpointHealth(endpoint: text, healthy: true, took: start.duration(to: clock.now), error: ""))
                        } catch {
                            let message = CommandFailure(error).message
                            return (index, EndpointHealth(endpoint: text, healthy: false, took: start.duration(to: clock.now), error: message))
                        }
                    }
                }
                var byIndex: [(Int, EndpointHealth)] = []
                for await entry in group { byIndex.append(entry) }
                return byIndex.sorted { $0.0 < $1.0 }.map(\.1)
            }
        }
        emit(printer.endpointHealth(reports))
        if reports.contains(where: { !$0.healthy }) {
            throw CommandFailure(message: "unhealthy cluster")
        }
    }
}
