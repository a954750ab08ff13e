import ArgumentParser
import Foundation
import KeelClient
import Synchronization

/// `lock NAME [COMMAND ARGS...]`: takes the lock; without a command prints its key and holds it
/// until SIGINT or SIGTERM; with one, runs it with ETCD_LOCK_KEY and ETCD_LOCK_REV set while holding
/// the lock. Releases the lock and revokes its session either way, as etcdctl 3.4 does.
struct LockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lock", abstract: "Acquires a named lock.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Timeout for the session, in seconds.") var ttl: Int64 = 10
    @Argument(parsing: .captureForPassthrough, help: "The lock's name, then a command to run while holding it.")
    var arguments: [String] = []

    func run() async throws {
        var words = arguments
        var ttl = self.ttl
        var global = self.global
        // etcdctl's flag parser also takes --ttl after the name, before "--".
        var positional: [String] = []
        while let word = words.first {
            words.removeFirst()
            if word == "--" {
                positional += words
                words = []
            } else if word == "--ttl", let value = words.first.flatMap({ Int64($0) }) {
                ttl = value
                words.removeFirst()
            } else if word.hasPrefix("--ttl="), let value = Int64(word.dropFirst("--ttl=".count)) {
                ttl = value
            } else if global.take(word, next: { words.isEmpty ? nil : words.removeFirst() }) {
                continue
            } else {
                positional.append(word)
            }
        }
        guard let name = positional.first else {
            throw CommandFailure(
                message: "lock takes a lock name argument and an optional command to execute",
                exitCode: EtcdctlUsageError.badArgumentsExitCode)
        }
        let command = Array(positional.dropFirst())
        let sessionTTL = ttl
        Interrupts.install()
        try await global.withClient { client in
            let session = try await Session.start(client: client, ttl: sessionTTL)
            let mutex = DistributedMutex(session: session, name: name)
            let held = try await untilInterrupted { try await mutex.lock() }
            var failure: CommandFailure?
            if command.isEmpty {
                emit(CommandOutput(stdout: held.keyText + "\n\n"))
                failure = await holdUntilInterrupted(session)
            } else {
                let status = try ChildCommand.run(
                    command,
                    environment: ["ETCD_LOCK_KEY": held.keyText, "ETCD_LOCK_REV": String(held.fencingToken)])
                if status != 0 { failure = CommandFailure(message: "exit status \(status)") }
            }
            try? await mutex.unlock()
            try? await session.close()
            if let failure { throw failure }
        }
    }
}

/// `elect NAME PROPOSAL` campaigns and, once leader, prints its key and value and leads until
/// SIGINT or SIGTERM, then resigns; `elect -l NAME` prints each leader as it comes.
struct ElectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "elect", abstract: "Observes and participates in leader election.")

    @OptionGroup var global: GlobalOptions
    @Flag(name: [.customShort("l"), .customLong("listen")], help: "Observation mode.") var listen = false
    @Argument(help: "The election's name, and the proposal.") var arguments: [String] = []

    func run() async throws {
        guard arguments.count == 1 || arguments.count == 2 else {
            throw CommandFailure(
                message: "elect takes one election name argument and an optional proposal argument",
                exitCode: EtcdctlUsageError.badArgumentsExitCode)
        }
        if listen && arguments.count == 2 {
            throw CommandFailure(message: "proposal given but -l is set", exitCode: EtcdctlUsageError.badArgumentsExitCode)
        }
        if !listen && arguments.count == 1 {
            throw CommandFailure(message: "no proposal argument but -l not set", exitCode: EtcdctlUsageError.badArgumentsExitCode)
        }
        let name = arguments[0]
        let proposal = arguments.count == 2 ? arguments[1] : nil
        Interrupts.install()
        try await global.withClient { client in
            let session = try await Session.start(client: client)
            let election = Election(session: session, name: name)
            guard let proposal else {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await leader in election.observe() { emit(CommandOutput(stdout: EtcdctlPrinter.keyValueLines(leader))) }
                    }
                    group.addTask { await Interrupts.wait() }
                    _ = try await group.next()
                    group.cancelAll()
                }
                try? await session.close()
                return
            }
            try await untilInterrupted { try await election.campaign(proposal) }
            let leader = try await election.leader()
            emit(CommandOutput(stdout: EtcdctlPrinter.keyValueLines(leader)))
            let failure = await holdUntilInterrupted(session)
            try? await election.resign()
            try? await session.close()
            if let failure { throw failure }
        }
    }
}

/// Runs `body` unless SIGINT or SIGTERM comes first, which cancels it (its cleanup runs) and
/// fails as etcdctl does when its context is cancelled.
func untilInterrupted<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            await Interrupts.wait()
            return nil
        }
        defer { group.cancelAll() }
        while let outcome = try await group.next() {
            if let outcome { return outcome }
            throw CommandFailure(message: "context canceled")
        }
        preconditionFailure("the body's task returns or throws")
    }
}

/// Waits for SIGINT or SIGTERM (nil), or until the session's lease is lost (etcdctl's "session expired").
func holdUntilInterrupted(_ session: Session) async -> CommandFailure? {
    await withTaskGroup(of: CommandFailure?.self) { group in
        group.addTask {
            await Interrupts.wait()
            return nil
        }
        group.addTask {
            guard await session.lost() != nil else { return nil }
            return CommandFailure(message: "session expired")
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}

/// SIGINT and SIGTERM turned into an async wait, so a command can release what it holds on the
/// way out (etcdctl's lock and elect exit 0 after releasing).
enum Interrupts {
    /// Set by the signal handler; an atomic store is all a handler may safely do.
    static let received = Atomic<Bool>(false)
    /// How often the waiter looks at ``received``.
    static let pollInterval: Duration = .milliseconds(50)

    /// From now on SIGINT and SIGTERM only set ``received``.
    static func install() {
        for number in [SIGINT, SIGTERM] {
            signal(number) { _ in Interrupts.received.store(true, ordering: .relaxed) }
        }
    }

    /// Returns when SIGINT or SIGTERM arrives (or the task is cancelled).
    static func wait() async {
        install()
        while !received.load(ordering: .relaxed) {
            do {
                try await Task.sleep(for: pollInterval)
            } catch {
                return
            }
        }
    }
}
