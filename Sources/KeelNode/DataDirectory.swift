import Foundation
import KeelStorage
import Raft

/// The layout of a node's data directory: an identity file naming the cluster and member it
/// belongs to, and the RocksDB database (`db/`). A directory of another cluster or member is
/// refused before anything in it is touched.
enum DataDirectory {
    static let identityFile = "keel-identity"
    static let databaseFolder = "db"

    /// Creates `directory` if missing and checks (or, on first start, records) its identity.
    static func claim(_ directory: String, clusterID: UInt64, memberID: NodeID) throws(KeelError) {
        let manager = FileManager.default
        do {
            try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw KeelError(.failedPrecondition, "cannot create data directory \(directory): \(error)")
        }
        let path = directory + "/" + identityFile
        let expected = "cluster-id: \(hex(clusterID))\nmember-id: \(hex(memberID.rawValue))\n"
        if let stored = manager.contents(atPath: path) {
            let text = String(decoding: stored, as: UTF8.self)
            guard text == expected else {
                let found = text.split(separator: "\n").joined(separator: ", ")
                throw KeelError(
                    .failedPrecondition,
                    "data directory \(directory) belongs to \(found.isEmpty ? "an unknown member" : found), "
                        + "not to cluster-id: \(hex(clusterID)), member-id: \(hex(memberID.rawValue)); "
                        + "use another --data-dir or remove this one")
            }
            return
        }
        do {
            // Written next to the target and renamed, so a crash never leaves half an identity.
            try Data(expected.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw KeelError(.failedPrecondition, "cannot write \(path): \(error)")
        }
        // Durable before the database is created next to it: after a power loss a populated db/
        // beside an empty or missing identity file would be refused as another member's.
        try sync(path)
        try sync(directory)
    }

    static let removedFile = "keel-removed"

    /// Records that this member was removed from its cluster (synced): it must not start again.
    static func markRemoved(_ directory: String) throws(KeelError) {
        let path = directory + "/" + removedFile
        guard FileManager.default.createFile(atPath: path, contents: Data("removed from the cluster\n".utf8)) else {
            throw KeelError(.failedPrecondition, "cannot write \(path)")
        }
        try sync(path)
        try sync(directory)
    }

    /// Whether ``markRemoved(_:)`` ran on `directory`.
    static func isMarkedRemoved(_ directory: String) -> Bool {
        FileManager.default.fileExists(atPath: directory + "/" + removedFile)
    }

    /// The identity `directory` was claimed with, if any.
    static func storedIdentity(_ directory: String) -> (clusterID: UInt64, memberID: NodeID)? {
        guard let stored = FileManager.default.contents(atPath: directory + "/" + identityFile) else { return nil }
        var clusterID: UInt64?
        var memberID: UInt64?
        for line in String(decoding: stored, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { continue }
            if parts[0] == "cluster-id:" { clusterID = UInt64(parts[1], radix: 16) }
            if parts[0] == "member-id:" { memberID = UInt64(parts[1], radix: 16) }
        }
        guard let clusterID, let memberID else { return nil }
        return (clusterID, NodeID(memberID))
    }

    /// fsync(2) of a file or a directory (a directory's entry for a renamed file).
    static func sync(_ path: String) throws(KeelError) {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw KeelError(.failedPrecondition, "cannot open \(path) to sync it: errno \(errno)") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw KeelError(.failedPrecondition, "cannot sync \(path): errno \(errno)") }
    }

    /// Whether the storage holds no Raft state at all (a node that never ran).
    static func isFresh(_ storage: NodeStorage) -> Bool {
        storage.log.lastIndex == .zero && storage.log.snapshotMetadata.index == .zero && storage.log.hardState == .initial
    }

    /// Writes the founding membership as the snapshot at index 1 that ``Raft/RestoredState/bootstrap(voters:)``
    /// describes, so that the node restarts from disk like any other. Safe to repeat after a crash
    /// half-way (each step is idempotent; the synced log write also makes the state machine's durable).
    static func bootstrap(_ storage: NodeStorage, voters: [NodeID]) throws {
        let boot = RestoredState.bootstrap(voters: voters)
        let snapshot = boot.snapshot!
        try storage.stateMachine.applyConfChange(index: snapshot.index, term: snapshot.term, confState: snapshot.confState)
        try storage.log.installSnapshot(snapshot)
        try storage.log.append([], hardState: boot.hardState)
    }

    /// Starts a new cluster from a backup (`kvctl snapshot save`): the state the file holds, at the
    /// applied index and term it was taken at, with `voters` as the membership. Every member of the
    /// new cluster restores the same file, so all begin with the same state at the same index, and
    /// the log begins after it, like a node that installed a snapshot.
    static func restore(_ storage: NodeStorage, from path: String, voters: [NodeID]) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StorageError(.io, "cannot read the backup \(path)")
        }
        let receiver = SnapshotReceiver()
        for chunk in try SnapshotFile.chunks(in: [UInt8](data)) { try receiver.receive(chunk) }
        guard receiver.isComplete, let header = receiver.header else {
            throw StorageError(.snapshotInvalid, "the backup \(path) ends before its trailer")
        }
        try storage.stateMachine.restore(from: receiver)
        let confState = ConfState(voters: Set(voters))
        try storage.stateMachine.replaceMembership(confState)
        let snapshot = SnapshotMetadata(index: header.appliedIndex, term: header.appliedTerm, confState: confState)
        try storage.log.installSnapshot(snapshot)
        try storage.log.append([], hardState: HardState(term: header.appliedTerm, vote: .none, commit: header.appliedIndex))
    }

    /// The database files' total size, best effort.
    static func sizeBytes(_ directory: String) -> Int64 {
        let path = directory + "/" + databaseFolder
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return 0 }
        var total: Int64 = 0
        for name in names {
            let attributes = try? FileManager.default.attributesOfItem(atPath: path + "/" + name)
            total += (attributes?[.size] as? NSNumber)?.int64Value ?? 0
        }
        return total
    }

    static func hex(_ value: UInt64) -> String { String(value, radix: 16) }
}
