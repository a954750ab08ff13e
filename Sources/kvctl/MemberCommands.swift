import ArgumentParser
import Foundation
import KeelClient

/// `member ...`: etcdctl's membership commands. Member ids are read and printed in hexadecimal.
struct MemberCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "member", abstract: "Membership related commands.",
        discussion: """
            Members are named by their id in hexadecimal, as `member list` prints it. A member is \
            added with its peer URLs (as a learner with --learner, which must then be promoted to \
            vote) and started afterwards with the variables `member add` prints.
            """,
        subcommands: [
            MemberAddCommand.self, MemberRemoveCommand.self, MemberUpdateCommand.self, MemberListCommand.self,
            MemberPromoteCommand.self,
        ])
}

/// The one member id argument of `remove`, `update` and `promote`, checked as etcdctl checks it: the
/// count first, then the hexadecimal.
private func memberIDArgument(_ arguments: [String]) throws -> UInt64 {
    guard arguments.count == 1 else {
        throw CommandFailure(message: "member ID is not provided", exitCode: EtcdctlUsageError.badArgumentsExitCode)
    }
    do {
        return try EtcdctlMemberID.parseArgument(arguments[0])
    } catch {
        throw CommandFailure(error)
    }
}

/// `--peer-urls`, split at commas as etcdctl splits it (spaces and empty items kept, for the check
/// to refuse), after etcdctl's own check that it was given at all.
private func peerURLsFlag(_ text: String) throws -> [String] {
    guard !text.isEmpty else {
        throw CommandFailure(message: "member peer urls not provided", exitCode: EtcdctlUsageError.badArgumentsExitCode)
    }
    let urls = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    // etcd's client refuses these before sending, and etcdctl reports that as a failed call (exit 1).
    if let problem = PeerURLs.problem(in: urls) { throw CommandFailure(message: problem) }
    return urls
}

/// `member add NAME --peer-urls=URL[,URL] [--learner]`.
struct MemberAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Adds a member into the cluster.",
        discussion: """
            Prints the new member's id and, in the simple format, the ETCD_* variables to start it \
            with (ETCD_INITIAL_CLUSTER_STATE="existing").
            """)

    /// How many times the list is read again when it does not show the new member yet.
    static let listAttemptsMax = 5

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The new member's name.") var arguments: [String] = []
    @Option(name: .customLong("peer-urls"), help: "Comma-separated peer URLs of the new member.") var peerURLs = ""
    @Flag(name: .customLong("learner"), help: "Add the member as a Raft learner, which does not vote until promoted.") var learner = false

    func run() async throws {
        guard let name = arguments.first else {
            throw CommandFailure(message: "member name not provided", exitCode: EtcdctlUsageError.badArgumentsExitCode)
        }
        guard arguments.count == 1 else {
            // A URL given without the flag is the usual slip: point at the flag, as etcdctl does.
            let hints = arguments.filter { $0.lowercased().hasPrefix("http") }.map { ", did you mean --peer-urls=\($0)" }
            throw CommandFailure(message: "too many arguments" + hints.joined(), exitCode: EtcdctlUsageError.badArgumentsExitCode)
        }
        let urls = try peerURLsFlag(peerURLs)
        let printer = EtcdctlPrinter(format: global.writeOut)
        try await global.withClient { client in
            let response = try await client.memberAdd(peerURLs: urls, isLearner: learner)
            emit(try printer.memberAdd(response))
            guard printer.memberAddPrintsEnvironment else { return }
            let members = try await Self.membersIncluding(response.member.id, client)
            emit(printer.memberAddEnvironment(name: name, peerURLs: peerURLs, newMemberID: response.member.id, members: members))
        }
    }

    /// The member list once it shows the member `id`. A member other than the one that took the add
    /// (after a failover) may not have applied it yet: a linearizable read brings it up to date.
    /// After ``listAttemptsMax`` reads the list is taken as it is.
    static func membersIncluding(_ id: UInt64, _ client: KeelClient) async throws -> [Member] {
        var list = try await client.memberList()
        for _ in 1..<listAttemptsMax where !list.members.contains(where: { $0.id == id }) {
            _ = try await client.get("_")
            list = try await client.memberList()
        }
        return list.members
    }
}

/// `member remove ID`.
struct MemberRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Removes a member from the cluster.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The member's id, in hexadecimal.") var arguments: [String] = []

    func run() async throws {
        let id = try memberIDArgument(arguments)
        let printer = EtcdctlPrinter(format: global.writeOut)
        try await global.withClient { client in
            emit(try printer.memberRemove(id: id, try await client.memberRemove(id: id)))
        }
    }
}

/// `member update ID --peer-urls=URL[,URL]`.
struct MemberUpdateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "update", abstract: "Updates a member in the cluster.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The member's id, in hexadecimal.") var arguments: [String] = []
    @Option(name: .customLong("peer-urls"), help: "Comma-separated peer URLs that replace the member's.") var peerURLs = ""

    func run() async throws {
        let id = try memberIDArgument(arguments)
        let urls = try peerURLsFlag(peerURLs)
        let printer = EtcdctlPrinter(format: global.writeOut)
        try await global.withClient { client in
            emit(try printer.memberUpdate(id: id, try await client.memberUpdate(id: id, peerURLs: urls)))
        }
    }
}

/// `member list`.
struct MemberListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Lists all members in the cluster.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let printer = EtcdctlPrinter(format: global.writeOut)
        try await global.withClient { client in
            emit(printer.memberList(try await client.memberList()))
        }
    }
}

/// `member promote ID`: makes a learner a voter; etcd refuses one that has not caught up.
struct MemberPromoteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote", abstract: "Promotes a non-voting member in the cluster.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The learner's id, in hexadecimal.") var arguments: [String] = []

    func run() async throws {
        let id = try memberIDArgument(arguments)
        let printer = EtcdctlPrinter(format: global.writeOut)
        try await global.withClient { client in
            emit(try printer.memberPromote(id: id, try await client.memberPromote(id: id)))
        }
    }
}
