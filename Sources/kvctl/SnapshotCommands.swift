import ArgumentParser
import Foundation
import KeelClient

/// `snapshot ...`.
struct SnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot", abstract: "Manages etcd node snapshots.", subcommands: [SnapshotSaveCommand.self])
}

/// `snapshot save FILE`: streams one member's backup into `FILE.part`, syncs it and renames it, as
/// etcdctl does, so an interrupted save never leaves a file that looks complete.
struct SnapshotSaveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "save", abstract: "Stores a snapshot of an etcd node to a file.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The file to write.") var arguments: [String] = []

    func run() async throws {
        guard arguments.count == 1 else {
            throw CommandFailure(message: "snapshot save expects one argument", exitCode: EtcdctlUsageError.badArgumentsExitCode)
        }
        let texts = try global.endpointTexts()
        guard texts.count == 1 else {
            throw CommandFailure(
                message: "snapshot must be requested to one selected node, not multiple [\(texts.joined(separator: " "))]",
                exitCode: EtcdctlUsageError.badArgumentsExitCode)
        }
        let path = arguments[0]
        let partial = path + ".part"
        // Owner-only, as etcdctl writes it: a backup holds every value.
        _ = FileManager.default.createFile(atPath: partial, contents: nil, attributes: [.posixPermissions: 0o600])
        guard let file = FileHandle(forWritingAtPath: partial) else {
            throw CommandFailure(message: "could not open \(partial)")
        }
        let output = SnapshotOutput(file: file)
        do {
            try await global.withClient { client in
                try await client.snapshot(at: client.endpoints[0]) { blob in try output.write(blob) }
            }
            try file.synchronize()
            try file.close()
            try? FileManager.default.removeItem(atPath: path)
            try FileManager.default.moveItem(atPath: partial, toPath: path)
        } catch {
            try? file.close()
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
        emit(CommandOutput(stdout: "Snapshot saved at \(path)\n"))
    }
}

/// The file a snapshot streams into.
///
/// `@unchecked Sendable`: the stream hands blobs over one at a time, in order, from one task.
private final class SnapshotOutput: @unchecked Sendable {
    let file: FileHandle
    init(file: FileHandle) { self.file = file }
    func write(_ blob: Data) throws { try file.write(contentsOf: blob) }
}
