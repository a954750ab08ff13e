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
            throw StorageError(.io, "simulated disk failure")
        }
        durable = current
    }

    public func appendLog(_ entries: [Entry], hardState: HardState?) throws {
        if let first = entries.first {
            precondition(first.index > current.snapshot.index, "append at \(first.index) at or below snapshot \(current.snapshot.index)")
            precondition(first.index <= current.lastIndex.advanced(by: 1), "append at \(first.index) leaves a hole after \(current.lastIndex)")
            // §5.3: a conflicting suffix is replaced by the leader's.
            current.entries.removeSubrange(Int(first.index.rawValue - current.snapshot.index.rawValue - 1)...)
            current.entries += entries
        }
        if let hardState {
            precondition(hardState.commit <= current.lastIndex, "commit \(hardState.commit) beyond last index \(current.lastIndex)")
            current.hardState = hardState
        }
        try sync()
    }

    public var logSnapshot: SnapshotMetadata { current.snapshot }

    public func compactLog(through metadata: SnapshotMetadata) throws {
        precondition(metadata.index > current.snapshot.index && metadata.index <= current.lastIndex, "compact through \(metadata.index)")
        precondition(current.term(at: metadata.index) == metadata.term, "compact through \(metadata.index): term mismatch")
        current.entries.removeFirst(Int(metadata.index.rawValue - current.snapshot.index.rawValue))
        current.snapshot = metadata
        try sync()
    }

    public func installFoundingSnapshot(_ metadata: SnapshotMetadata) throws {
        current.membership = metadata.confState
        current.applied = max(current.applied, metadata.index)
        current.snapshot = metadata
        try sync()
    }

    public func installSnapshot(_ snapshot: Snapshot) throws {
        let metadata = snapshot.metadata
        guard let image = MemoryImage(decoding: snapshot.data), image.index == metadata.index else {
            throw StorageError(.snapshotInvalid, "snapshot for index \(metadata.index) does not carry an image of that index")
        }
        precondition(metadata.index > current.snapshot.index, "snapshot at \(metadata.index) older than \(current.snapshot.index)")
        // §7: keep the entries after the snapshot if the log agrees with it there; else drop them all.
        if current.term(at: metadata.index) == metadata.term {
            current.entries.removeFirst(Int(metadata.index.rawValue - current.snapshot.index.rawValue))
        } else {
            current.entries = []
        }
        current.snapshot = metadata
        current.hardState.commit = max(current.hardState.commit, metadata.index)
        current.kv = image.kv
        current.applied = metadata.index
        current.appliedTerm = metadata.term
        current.membership = image.membership
        appliedDigests.append((metadata.index, current.kv.hashValue))
        try sync()
    }

    public func restartState() throws -> RestartState {
        let confState = current.applied >= current.snapshot.index && current.applied > .zero && current.membership != ConfState()
            ? current.membership : current.snapshot.confState
        return RestartState(
            hardState: current.hardState, snapshotMetadata: current.snapshot, entries: current.entries, confState: confState,
            appliedIndex: current.applied)
    }

    public var appliedIndex: LogIndex { current.applied }
    public var appliedTerm: Term { current.appliedTerm }
    public var revision: Int64 { current.kv.revision }
    public var compactedRevision: Int64 { current.kv.compactedRevision }
    public var membership: ConfState { current.membership }

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
        }
        if current.kv.revision != revisionBefore { revisionEntries[current.kv.revision] = (index, term) }
        current.applied = index
        current.appliedTerm = term
        appliedDigests.append((index, current.kv.hashValue))
        return result
    }

    public func applyConfChange(index: LogIndex, term: Term, confState: ConfState) throws {
        guard index > current.applied else { return }
        current.applied = index
        current.appliedTerm = term
        current.membership = confState
        appliedDigests.append((index, current.kv.hashValue))
    }

    public func read(_ command: KVCommand) throws -> KVResponse { try current.kv.read(command).get() }

    public func openImage() -> ImageSource {
        let image = MemoryImage(index: current.applied, membership: current.membership, kv: current.kv)
        return ImageSource(
            reader: image, metadata: SnapshotMetadata(index: current.applied, term: current.appliedTerm, confState: current.membership))
    }

    /// Hands the checker the digests recorded since the last call.
    func takeAppliedDigests() -> [(index: LogIndex, digest: Int)] {
        defer { appliedDigests = [] }
        return appliedDigests
    }
}

/// A simulated image: the key-value state at an index.
struct MemoryImage: ImageReader {
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
        guard count <= 64, bytes.count >= offset + 8 * count else { return nil }
        var voters: Set<NodeID> = []
        for _ in 0..<count { voters.insert(NodeID(u64())) }
        membership = ConfState(voters: voters)
        guard let kv = MemoryKV(decoding: Array(bytes[offset...])) else { return nil }
        self.kv = kv
    }
}
