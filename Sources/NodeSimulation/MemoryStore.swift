import KeelNode
import KeelStorage
import Raft

/// A node's disk in the simulation: the Raft log, hard state and key-value state in memory, with
/// RocksDB's durability as ``NodeStore`` states it. A synced write (an append, a snapshot install,
/// a compaction) makes everything before it durable; applies are not synced on their own. A crash
/// (``crash()``) keeps only what was durable.
///
/// It also records, for the checker, the digest of the state after each applied index and where
/// each of this node's requests was applied.
public final class MemoryStore: NodeStore {
    /// What survives a crash, and what is current.
    struct Disk: Equatable {
        var hardState = HardState()
        var snapshot = SnapshotMetadata(index: .zero, term: .zero, confState: ConfState())
        /// Entries after `snapshot.index`, contiguous.
        var entries: [Entry] = []
        var kv = MemoryKV()
        var applied: LogIndex = .zero
        var appliedTerm: Term = .zero
        var membership = ConfState()
        /// The host's member descriptions. Images do not carry them: the simulation changes no
        /// membership, so no node ever needs them from a leader.
        var members: [UInt8]?

        var lastIndex: LogIndex { entries.last?.index ?? snapshot.index }

        func term(at index: LogIndex) -> Term? {
            if index == snapshot.index { return snapshot.term }
            guard index > snapshot.index, index <= lastIndex else { return nil }
            return entries[Int(index.rawValue - snapshot.index.rawValue - 1)].term
        }
    }

    private(set) var current = Disk()
    private(set) var durable = Disk()
    /// A failing disk: the next synced write throws (the node halts, as on a real I/O error).
    var failNextSync = false
    /// Digest of the state after each index this store applied (since it was created).
    private(set) var appliedDigests: [(index: LogIndex, digest: Int)] = []
    /// The entry that produced each revision this store applied (checker bookkeeping, kept
    /// across crashes: a replay produces the same).
    private(set) var revisionEntries: [Int64: (index: LogIndex, term: Term)] = [:]
    /// What the entry at each revision wrote, as this store applied it (puts of one key).
    private(set) var revisionWrites: [Int64: (key: [UInt8], value: [UInt8])] = [:]
    /// Leases whose revoke this store applied since the checker last took them.
    private(set) var revokesApplied: [Int64] = []

    /// A fresh disk, bootstrapped with the founding snapshot of `voters` as a new cluster's is.
    public init(voters: [NodeID]) {
        let boot = RestoredState.bootstrap(voters: voters)
        let snapshot = boot.snapshot!
        current.snapshot = snapshot
        current.hardState = boot.hardState
        current.applied = snapshot.index
        current.appliedTerm = snapshot.term
        current.membership = snapshot.confState
        durable = current
    }

    /// Loses everything not yet synced.
    public func crash() {
        current = durable
        appliedDigests = []
        failNextSync = false
    }

    /// The durable hard state (for the persist-before-send check).
    public var durableHardState: HardState { durable.hardState }
    /// The durable term of the entry at `index`, nil if not durably in the log (or compacted).
    public func durableTerm(at index: LogIndex) -> Term? { durable.term(at: index) }
    /// The durable log's last index and its snapshot index.
    public var durableLastIndex: LogIndex { durable.lastIndex }
    /// The index of the durable snapshot.
    public var durableSnapshotIndex: LogIndex { durable.snapshot.index }
    /// The current key-value state.
    var kv: MemoryKV { current.kv }

    private func sync() throws {
        if failNextSync {
            failNextSync = false
            current = durable
            throw StorageError(.io, Self.simulatedFailure)
        }
        durable = current
    }

    /// The message of a simulated disk failure; any other storage error is a refusal (a bug).
    static let simulatedFailure = "simulated disk failure"

    /// Appends as RocksDB's log does, refusing (with the same checks, changing nothing) what it refuses.
    public func appendLog(_ entries: [Entry], hardState: HardState?) throws {
        var next = current
        if let first = entries.first {
            guard first.index > next.snapshot.index else {
                throw StorageError(.compacted, "append at \(first.index) is at or below snapshot index \(next.snapshot.index)")
            }
            guard first.index <= next.lastIndex.advanced(by: 1) else {
                throw StorageError(.invalidArgument, "append at \(first.index) would leave a hole after last index \(next.lastIndex)")
            }
            // §5.3: a conflicting suffix is replaced by the leader's.
            next.entries.removeSubrange(Int(first.index.rawValue - next.snapshot.index.rawValue - 1)...)
            next.entries += entries
        }
        let commit = hardState?.commit ?? next.hardState.commit
        guard commit <= next.lastIndex else {
            throw StorageError(.invalidArgument, "commit index \(commit) would be beyond last index \(next.lastIndex)")
        }
        if let hardState { next.hardState = hardState }
        current = next
        try sync()
    }

    /// The log's snapshot metadata.
    public var logSnapshot: SnapshotMetadata { current.snapshot }

    /// Compacts as RocksDB's log does (synced), refusing what it refuses.
    public func compactLog(through metadata: SnapshotMetadata) throws {
        guard metadata.index > current.snapshot.index, metadata.index <= current.lastIndex else {
            throw StorageError(.compacted, "compact through \(metadata.index): the log holds \(current.snapshot.index)...\(current.lastIndex)")
        }
        guard current.term(at: metadata.index) == metadata.term else {
            throw StorageError(.invalidArgument, "compact through \(metadata.index): term \(metadata.term) but the log has another")
        }
        current.entries.removeFirst(Int(metadata.index.rawValue - current.snapshot.index.rawValue))
        current.snapshot = metadata
        try sync()
    }

    /// Records the founding snapshot (synced); refuses one older than the log's snapshot.
    public func installFoundingSnapshot(_ metadata: SnapshotMetadata) throws {
        guard metadata.index > current.snapshot.index else {
            throw StorageError(.compacted, "snapshot at \(metadata.index) is older than snapshot at \(current.snapshot.index)")
        }
        current.membership = metadata.confState
        if metadata.index > current.applied {
            current.applied = metadata.index
            current.appliedTerm = metadata.term
        }
        current.snapshot = metadata
        try sync()
    }

    /// Installs a leader's image (synced), refusing one that is not the state at its index, is older
    /// than the log's snapshot, or contradicts committed entries.
    public func installSnapshot(_ snapshot: Snapshot) throws {
        let metadata = snapshot.metadata
        guard let image = MemoryImage(decoding: snapshot.data), image.index == metadata.index else {
            throw StorageError(.snapshotInvalid, "snapshot for index \(metadata.index) does not carry an image of that index")
        }
        guard metadata.index > current.snapshot.index else {
            throw StorageError(.compacted, "snapshot at \(metadata.index) is older than snapshot at \(current.snapshot.index)")
        }
        // §7: keep the entries after the snapshot if the log agrees with it there; else drop them all.
        let keepSuffix = current.term(at: metadata.index) == metadata.term
        // Committed entries are never replaced (§5.4), as RocksDB's log refuses.
        guard keepSuffix || current.hardState.commit <= metadata.index else {
            throw StorageError(
                .invalidArgument,
                "snapshot at \(metadata.index) with term \(metadata.term) conflicts with the log, committed through \(current.hardState.commit)")
        }
        var next = current
        if keepSuffix {
            next.entries.removeFirst(Int(metadata.index.rawValue - next.snapshot.index.rawValue))
        } else {
            next.entries = []
        }
        next.snapshot = metadata
        next.hardState.commit = max(next.hardState.commit, metadata.index)
        next.kv = image.kv
        next.applied = metadata.index
        next.appliedTerm = metadata.term
        next.membership = image.membership
        current = next
        try sync()
        appliedDigests.append((metadata.index, current.kv.hashValue))
    }

    /// What the core resumes from, as `NodeStorage.restartState()` computes it.
    public func restartState() throws -> RestartState {
        let confState = current.applied >= current.snapshot.index && current.applied > .zero && current.membership != ConfState()
            ? current.membership : current.snapshot.confState
        return RestartState(
            hardState: current.hardState, snapshotMetadata: current.snapshot, entries: current.entries, confState: confState,
            appliedIndex: current.applied)
    }

    /// The applied index (lost on a crash back to the last synced write).
    public var appliedIndex: LogIndex { current.applied }
    /// The term of the last applied entry.
    public var appliedTerm: Term { current.appliedTerm }
    /// The key-value store's revision.
    public var revision: Int64 { current.kv.revision }
    /// The key-value store's compacted revision.
    public var compactedRevision: Int64 { current.kv.compactedRevision }
    /// The membership as of the applied index.
    public var membership: ConfState { current.membership }

    /// Applies one entry's command, unsynced, recording the state's digest for the checker.
    public func apply(index: LogIndex, term: Term, entryData: [UInt8]) throws -> Result<KVResponse, StorageError>? {
        guard index > current.applied else { return nil }
        precondition(index == current.applied.advanced(by: 1), "applied \(index) after \(current.applied)")
        let result: Result<KVResponse, StorageError>
        let revisionBefore = current.kv.revision
        if entryData.isEmpty {
            result = .success(.none)
        } else {
            do {
                result = current.kv.apply(try KVCommand(decoding: entryData))
            } catch let error as StorageError {
                result = .failure(error)
            }
            if case .success(.leaseRevoke(let id, _)) = result { revokesApplied.append(id) }
        }
        if current.kv.revision != revisionBefore {
            revisionEntries[current.kv.revision] = (index, term)
            if let written = current.kv.keys.values.first(where: { $0.modRevision == current.kv.revision }) {
                revisionWrites[current.kv.revision] = (written.key, written.value)
            }
        }
        current.applied = index
        current.appliedTerm = term
        appliedDigests.append((index, current.kv.hashValue))
        return result
    }

    /// Records a configuration entry's outcome, unsynced.
    public func applyConfChange(index: LogIndex, term: Term, confState: ConfState, members: [UInt8]?) throws {
        guard index > current.applied else { return }
        current.applied = index
        current.appliedTerm = term
        current.membership = confState
        if let members { current.members = members }
        appliedDigests.append((index, current.kv.hashValue))
    }

    /// Serves a Range or read-only Txn from the current state.
    public func read(_ command: KVCommand) throws -> KVResponse { try current.kv.read(command).get() }

    /// Every lease as applied, in id order.
    public func leases() throws -> [LeaseRecord] { current.kv.leaseRecords }

    /// The member descriptions as applied.
    public func members() throws -> [UInt8]? { current.members }

    /// A copy of the current state as an image (value semantics: later applies do not reach it).
    public func openImage() -> ImageSource {
        let image = MemoryImage(index: current.applied, membership: current.membership, kv: current.kv)
        return ImageSource(
            reader: image, metadata: SnapshotMetadata(index: current.applied, term: current.appliedTerm, confState: current.membership))
    }

    /// Hands the checker the leases revoked since the last call.
    func takeRevokesApplied() -> [Int64] {
        defer { revokesApplied = [] }
        return revokesApplied
    }

    /// Hands the checker the digests recorded since the last call.
    func takeAppliedDigests() -> [(index: LogIndex, digest: Int)] {
        defer { appliedDigests = [] }
        return appliedDigests
    }
}

/// A simulated image: the key-value state at an index.
struct MemoryImage: ImageReader {
    /// More voters than this in an image is corruption.
    static let votersMax = 64

    var index: LogIndex
    var membership: ConfState
    var kv: MemoryKV

    func read() throws -> [UInt8] {
        var bytes: [UInt8] = Array("simimage".utf8)
        withUnsafeBytes(of: index.rawValue.bigEndian) { bytes += $0 }
        let voters = membership.voters.sorted()
        withUnsafeBytes(of: UInt64(voters.count).bigEndian) { bytes += $0 }
        for voter in voters { withUnsafeBytes(of: voter.rawValue.bigEndian) { bytes += $0 } }
        return bytes + kv.encoded()
    }

    init(index: LogIndex, membership: ConfState, kv: MemoryKV) {
        self.index = index
        self.membership = membership
        self.kv = kv
    }

    init?(decoding bytes: [UInt8]) {
        let magic = Array("simimage".utf8)
        guard bytes.count >= magic.count + 16, Array(bytes[0..<magic.count]) == magic else { return nil }
        var offset = magic.count
        func u64() -> UInt64 {
            defer { offset += 8 }
            return bytes[offset..<offset + 8].reduce(0) { $0 << 8 | UInt64($1) }
        }
        index = LogIndex(u64())
        let count = Int(u64())
        guard count <= Self.votersMax, bytes.count >= offset + 8 * count else { return nil }
        var voters: Set<NodeID> = []
        for _ in 0..<count { voters.insert(NodeID(u64())) }
        membership = ConfState(voters: voters)
        guard let kv = MemoryKV(decoding: Array(bytes[offset...])) else { return nil }
        self.kv = kv
    }
}
