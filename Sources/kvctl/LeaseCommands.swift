import ArgumentParser
import Foundation
import KeelClient

/// `lease ...`: etcdctl's lease commands. Lease IDs are read and printed in hexadecimal.
struct LeaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lease", abstract: "Lease related commands.",
        subcommands: [
            LeaseGrantCommand.self, LeaseRevokeCommand.self, LeaseTimeToLiveCommand.self, LeaseListCommand.self,
            LeaseKeepAliveCommand.self,
        ])
}

/// The one lease ID argument of `revoke`, `timetolive` and `keep-alive`, checked as etcdctl checks it:
/// the count first (with the command's own message), then the hexadecimal.
private func leaseIDArgument(_ arguments: [String], missing: String) throws -> Int64 {
    guard arguments.count == 1 else { throw CommandFailure(message: missing, exitCode: EtcdctlUsageError.badArgumentsExitCode) }
    do {
        return try EtcdctlLeaseID.parseArgument(arguments[0])
    } catch {
        throw CommandFailure(error)
    }
}

/// etcdctl reports failed `grant` and `revoke` calls as "failed to ... (<error>)" with exit code 1.
private func failedTo(_ what: String, _ error: any Error) -> CommandFailure {
    guard let clientError = error as? KeelClientError else { return CommandFailure(error) }
    return CommandFailure(message: "failed to \(what) (\(clientError.etcdctlDescription))")
}

/// `lease grant TTL`.
struct LeaseGrantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "grant", abstract: "Creates leases.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The TTL in seconds.") var arguments: [String] = []

    func run() async throws {
        guard arguments.count == 1 else {
            throw CommandFailure(message: "lease grant command needs TTL argument", exitCode: EtcdctlUsageError.badArgumentsExitCode)
        }
        let ttl: Int64
        do {
            ttl = try EtcdctlLeaseID.parseTTL(arguments[0])
        } catch {
            throw CommandFailure(error)
        }
        let printer = EtcdctlPrinter(format: global.writeOut)
        try await global.withClient { client in
            let response: LeaseGrantResponse
            do {
                response = try await client.leaseGrant(ttl: ttl)
            } catch {
                throw failedTo("grant lease", error)
            }
            emit(try printer.leaseGrant(response))
        }
    }
}

/// `lease revoke ID`.
struct LeaseRevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revokes leases.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The lease ID, in hexadecimal.") var arguments: [String] = []

    func run() async throws {
        let id = try leaseIDArgument(arguments, missing: "lease revoke command needs 1 argument")
        let printer = EtcdctlPrinter(format: global.writeOut)
        try await global.withClient { client in
            let response: LeaseRevokeResponse
            do {
                response = try await client.leaseRevoke(id: id)
            } catch {
                throw failedTo("revoke lease", error)
            }
            emit(try printer.leaseRevoke(id: id, response))
        }
    }
}

/// `lease timetolive ID [--keys]`.
struct LeaseTimeToLiveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "timetolive", abstract: "Get lease information.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The lease ID, in hexadecimal.") var arguments: [String] = []
    @Flag(help: "Get keys attached to this lease.") var keys = false

    func run() async throws {
        let id = try leaseIDArgument(arguments, missing: "lease timetolive command needs lease ID as argument")
        let printer = EtcdctlPrinter(format: global.writeOut)
        try await global.withClient { client in
            let response: LeaseTimeToLiveResponse
            do {
                response = try await client.leaseTimeToLive(id: id, keys: keys)
            } catch {
                throw CommandFailure(connectionError: error)
            }
            emit(try printer.leaseTimeToLive(response, keys: keys))
        }
    }
}

/// `lease list`.
struct LeaseListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List all active leases.")

    @OptionGroup var global: GlobalOptions
    /// etcdctl ignores arguments here.
    @Argument(help: .hidden) var ignored: [String] = []

    func run() async throws {
        let printer = EtcdctlPrinter(format: global.writeOut)
        try await global.withClient { client in
            let response: LeaseLeasesResponse
            do {
                response = try await client.leaseLeases()
            } catch {
                throw CommandFailure(connectionError: error)
            }
            emit(try printer.leaseList(response))
        }
    }
}

/// `lease keep-alive [--once] ID`: renews until the lease is gone (printing each renewal), or once.
struct LeaseKeepAliveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "keep-alive", abstract: "Keeps leases alive (renew).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The lease ID, in hexadecimal.") var arguments: [String] = []
    @Flag(help: "Renew once instead of until the lease is gone.") var once = false

    func run() async throws {
        let id = try leaseIDArgument(arguments, missing: "lease keep-alive command needs lease ID as argument")
        let printer = EtcdctlPrinter(format: global.writeOut)
        try await global.withClient { client in
            if once {
                let response: LeaseKeepAliveResponse
                do {
                    response = try await client.keepAliveOnce(id: id)
                } catch {
                    throw CommandFailure(connectionError: error)
                }
                emit(try printer.leaseKeepAlive(response))
                return
            }
            do {
                for try await answer in client.keepAlive(id: id) { emit(try printer.leaseKeepAlive(answer)) }
            } catch let error as KeelClientError where error.code == .notFound || error.code == .deadlineExceeded {
                // The lease expired, was revoked or could not be renewed in time: etcdctl ends there,
                // successfully. Any other failure (a server without leases, say) is reported.
                emit(printer.leaseKeepAliveEnded(id: id))
            }
        }
    }
}

extension CommandFailure {
    /// etcdctl's code when a call fails in `lease timetolive`, `list` and `keep-alive` (ExitBadConnection).
    static let badConnectionExitCode: Int32 = 2

    /// A failed call reported with ``badConnectionExitCode``; a usage error keeps its own code.
    init(connectionError error: any Error) {
        if error is KeelClientError {
            self.init(message: CommandFailure(error).message, exitCode: Self.badConnectionExitCode)
        } else {
            self.init(error)
        }
    }
}
