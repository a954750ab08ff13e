import ArgumentParser
import Foundation
import KeelClient

/// `alarm ...`.
struct AlarmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alarm", abstract: "Alarm related commands.", subcommands: [AlarmListCommand.self, AlarmDisarmCommand.self])
}

/// `alarm list`.
struct AlarmListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Lists all alarms.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let printer = EtcdctlPrinter(format: global.writeOut)
        try await global.withClient { client in emit(try printer.alarms(try await client.alarmList())) }
    }
}

/// `alarm disarm`: clears every raised alarm and prints those it cleared.
struct AlarmDisarmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "disarm", abstract: "Disarms all alarms.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let printer = EtcdctlPrinter(format: global.writeOut)
        try await global.withClient { client in emit(try printer.alarms(try await client.alarmDisarm())) }
    }
}

/// `defrag`: each endpoint in turn; like etcdctl, a line per endpoint whatever `-w` says, failures
/// on standard error, and exit 1 if any failed.
struct DefragCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "defrag", abstract: "Defragments the storage of the etcd members with given endpoints.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let texts = try global.endpointTexts()
        var failures = 0
        try await global.withClient { client in
            for (text, endpoint) in zip(texts, client.endpoints) {
                do {
                    _ = try await client.defragment(at: endpoint)
                    emit(CommandOutput(stdout: "Finished defragmenting etcd member[\(text)]\n"))
                } catch {
                    failures += 1
                    emit(CommandOutput(stderr: "Failed to defragment etcd member[\(text)] (\(CommandFailure(error).message))\n"))
                }
            }
        }
        if failures > 0 { throw ExitCode(CommandFailure.callFailedExitCode) }
    }
}

/// `endpoint hashkv [--rev R]`: prints the hashes it got, reports each failure on standard error,
/// then fails with the last error, as etcdctl does.
struct EndpointHashKVCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hashkv", abstract: "Prints the KV history hash for each endpoint in --endpoints.")

    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("rev"), help: "maximum revision to hash (default: all revisions)") var revision: Int64 = 0

    func run() async throws {
        let printer = EtcdctlPrinter(format: global.writeOut)
        let texts = try global.endpointTexts()
        var lastFailure: CommandFailure?
        try await global.withClient { client in
            var hashes: [EndpointHashKV] = []
            for (text, endpoint) in zip(texts, client.endpoints) {
                do {
                    hashes.append(EndpointHashKV(endpoint: text, response: try await client.hashKV(at: endpoint, revision: revision)))
                } catch {
                    let failure = CommandFailure(error)
                    lastFailure = failure
                    emit(CommandOutput(stderr: "Failed to get the hash of endpoint \(text) (\(failure.message))\n"))
                }
            }
            emit(printer.endpointHashKV(hashes))
        }
        if let lastFailure { throw lastFailure }
    }
}

/// `move-leader TARGET`: finds the leader among the endpoints by their status, then asks it to
/// hand over to TARGET (a member id in hexadecimal).
struct MoveLeaderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "move-leader", abstract: "Transfers leadership to another etcd cluster member.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The new leader's member id, in hexadecimal.") var arguments: [String] = []

    func run() async throws {
        guard arguments.count == 1 else {
            throw CommandFailure(message: "move-leader command needs 1 argument", exitCode: EtcdctlUsageError.badArgumentsExitCode)
        }
        let target = try Self.parseHex(arguments[0])
        let printer = EtcdctlPrinter(format: global.writeOut)
        let texts = try global.endpointTexts()
        try await global.withClient { client in
            for endpoint in client.endpoints {
                let status = try await client.status(at: endpoint)
                guard status.header.memberID == status.leader else { continue }
                let response = try await client.moveLeader(at: endpoint, to: target)
                emit(try printer.moveLeader(from: status.leader, to: target, response))
                return
            }
            throw CommandFailure(
                message: "no leader endpoint given at [\(texts.joined(separator: " "))]", exitCode: EtcdctlUsageError.badArgumentsExitCode)
        }
    }

    /// Go's `strconv.ParseUint(text, 16, 64)`, with its error texts.
    static func parseHex(_ text: String) throws -> UInt64 {
        do {
            return try GoInteger.parseUnsigned(text, base: 16)
        } catch {
            throw CommandFailure(message: error.description, exitCode: EtcdctlUsageError.badArgumentsExitCode)
        }
    }
}
