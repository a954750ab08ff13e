import Raft

/// Where this node stands with state-machine images (the `data` of the snapshots its core sends
/// and compacts to). One value, changed only through the methods below, each of which checks the
/// transition it makes.
///
/// The core's contract is that `compact(upTo: X, snapshotData:)` gets the image of the state at X.
/// An image is opened at the applied index A, read off the storage thread (`building`), then held
/// (`pending`) until `snapshotCatchUpEntries` more entries are applied, so followers a little behind
/// still find entries after A; then the stored log and the core are compacted to it together.
///
/// After a restart the state machine has usually applied past the stored snapshot S and its image at
/// S is gone; the core resumes from S with no image (`coreImageMissing`). A snapshot the core wants
/// to send meanwhile is held back, and `compactNow` asks for the restart image (read at once) to
/// be compacted to without waiting for catch-up entries.
struct ImageLifecycle: Equatable {
    enum Phase: Equatable, CustomStringConvertible {
        /// No image being read or waiting.
        case idle
        /// An image of the state at this index is being read elsewhere (nil: the restart image,
        /// whose index is known once it is open).
        case building(LogIndex?)
        /// An image, read, waits for catch-up entries before the log is compacted to it.
        case pending(SnapshotMetadata, data: [UInt8])

        /// The phase and its index, without the image's bytes (for precondition messages).
        var description: String {
            switch self {
            case .idle: "idle"
            case .building(let index): "building \(index.map { "at \($0)" } ?? "the restart image")"
            case .pending(let metadata, let data): "pending at \(metadata.index) (\(data.count) bytes)"
            }
        }
    }

    private(set) var phase: Phase = .idle
    /// The core resumed from a stored snapshot without its image.
    /// Invariant: cleared only by compacting to an image or installing a leader's snapshot.
    private(set) var coreImageMissing: Bool
    /// A snapshot was held back for want of an image: compact to the next one at once.
    /// Invariant: implies `coreImageMissing`.
    private(set) var compactNow = false

    init(coreImageMissing: Bool) { self.coreImageMissing = coreImageMissing }

    var isBuilding: Bool { if case .building = phase { true } else { false } }
    var pendingMetadata: SnapshotMetadata? { if case .pending(let metadata, _) = phase { metadata } else { nil } }

    /// An image of the state at `index` starts being read.
    mutating func startBuilding(at index: LogIndex?) {
        precondition(phase == .idle, "image lifecycle: started building while \(phase)")
        phase = .building(index)
    }

    /// The image being read is done. Kept only if newer than the core's snapshot (a leader's
    /// snapshot may have overtaken it meanwhile); returns whether it was kept.
    mutating func built(_ image: SnapshotImage, coreSnapshotIndex: LogIndex) -> Bool {
        guard case .building(let index) = phase else { preconditionFailure("image lifecycle: built while \(phase)") }
        if let index { precondition(image.metadata.index == index, "image lifecycle: built \(image.metadata.index), expected \(index)") }
        guard image.metadata.index > coreSnapshotIndex else {
            phase = .idle
            return false
        }
        phase = .pending(image.metadata, data: image.data)
        return true
    }

    /// Reading the image failed (the node halts).
    mutating func buildFailed() {
        guard case .building = phase else { preconditionFailure("image lifecycle: build failed while \(phase)") }
        phase = .idle
    }

    /// A snapshot the core wanted to send was held back: there is no image for it.
    mutating func heldBack() {
        precondition(coreImageMissing, "image lifecycle: held back a snapshot whose image exists")
        compactNow = true
    }

    /// The log was compacted through `metadata`: returns the pending image's data for the core.
    mutating func compacted(through metadata: SnapshotMetadata) -> [UInt8] {
        guard case .pending(let pending, let data) = phase else { preconditionFailure("image lifecycle: compacted while \(phase)") }
        precondition(pending.index == metadata.index, "image lifecycle: compacted through \(metadata.index), pending \(pending.index)")
        phase = .idle
        coreImageMissing = false
        compactNow = false
        return data
    }

    /// A leader's snapshot at `index` was installed: the core holds its image, and a pending image
    /// at or below it is out of date.
    mutating func installed(at index: LogIndex) {
        coreImageMissing = false
        compactNow = false
        if case .pending(let metadata, _) = phase, metadata.index <= index { phase = .idle }
    }

    /// Checks the invariants that no single transition can see.
    func check() {
        precondition(!compactNow || coreImageMissing, "image lifecycle: compact-now without a missing image")
    }
}
