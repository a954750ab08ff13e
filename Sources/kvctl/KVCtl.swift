import ArgumentParser
import Foundation
import KeelClient

/// kvctl: etcdctl's commands and output against a Keel (or etcd) cluster.
@main
struct KVCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kvctl",
        abstract: "A command line client for Keel, speaking etcd's v3 API and printing what etcdctl 3.4 prints.",
        subcommands: [
            PutCommand.self, GetCommand.self, DelCommand.self, TxnCommand.self, CompactionCommand.self,
            MemberCommand.self, EndpointCommand.self, LeaseCommand.self, WatchCommand.self, LockCommand.self,
            ElectCommand.self, AlarmCommand.self, DefragCommand.self, MoveLeaderCommand.self, SnapshotCommand.self,
        ]
    )

    /// etcdctl accepts its global flags before the command (`--endpoints=x get k`); ArgumentParser
    /// wants them after it, so they are moved there before parsing.
    static func main() async {
        let arguments = GlobalOptions.movingGlobalsAfterCommand(Array(CommandLine.arguments.dropFirst()))
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CommandFailure {
            FileHandle.standardError.write(Data("Error: \(failure.message)\n".utf8))
            Foundation.exit(failure.exitCode)
        } catch {
            exit(withError: error)
        }
    }
}

/// A failure to report etcdctl's way: "Error: <message>" on standard error and an exit code.
struct CommandFailure: Error {
    var message: String
    var exitCode: Int32

    /// etcdctl's code for a failed call (ExitError).
    static let callFailedExitCode: Int32 = 1

    init(message: String, exitCode: Int32 = Self.callFailedExitCode) {
        self.message = message
        self.exitCode = exitCode
    }

    /// The failure of any error a command body throws.
    init(_ error: any Error) {
        switch error {
        case let error as KeelClientError: self.init(message: error.etcdctlDescription)
        case let error as EtcdctlUsageError: self.init(message: error.message, exitCode: error.exitCode)
        case let error as TxnParseError:
            self.init(message: error.description, exitCode: EtcdctlUsageError.invalidInputExitCode)
        case let error as EndpointParseError:
            self.init(message: error.description, exitCode: EtcdctlUsageError.badArgumentsExitCode)
        case let error as CommandFailure: self = error
        default: self.init(message: "\(error)")
        }
    }
}

/// Writes a command's output to standard output and standard error.
func emit(_ output: CommandOutput) {
    // A reader that went away (`kvctl get … | head`) is not an error worth a crash: stop writing.
    if !output.stdout.isEmpty { try? FileHandle.standardOutput.write(contentsOf: Data(output.stdout.utf8)) }
    if !output.stderr.isEmpty { try? FileHandle.standardError.write(contentsOf: Data(output.stderr.utf8)) }
}
