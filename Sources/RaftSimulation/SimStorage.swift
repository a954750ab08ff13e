// Simulated durable storage for one node. A Ready's writes go into an unsynced batch; only a sync
// makes them durable. A crash discards the unsynced batch, exactly what an fsync-less write would lose.

import Raft

/// What one node's disk holds.
struct DurableState {
    var hardState: HardState
    /// Nil only for a joining node that has received nothing yet.
    var snapshot: Snapshot?
    /// Entries after the snapshot, contiguous.
    var entries: [Entry] = []

    var lastIndex: LogIndex {
        entries.last?.index ?? snapshot?.metadata.index ?? .zero
    }

    /// The term of the durable entry at `index` (the snapshot's term at its own index); nil when
    /// the disk holds no such entry or the snapshot covers it.
    func term(at index: LogIndex) -> Term? {
        let floor = snapshot?.metadata.index ?? .zero
        if index == floor { return snapshot?.metadata.term }
        guard index > floor, let first = entries.first, index >= first.index else { return nil }
        let i = Int(index.rawValue - first.index.rawValue)
        return i < entries.count ? entries[i].term : nil
    }

    /// Writes one synced Ready batch: snapshot first, then entries (replacing a conflicting
    /// suffix), then the hard state. Applied atomically, as one write batch would be.
    mutating func write(hardState hs: HardState?, snapshot snap: Snapshot?, entries new: [Entry]) {
        if let snap {
            snapshot = snap
            entries = []
        }
        let floor = snapshot?.metadata.index ?? .zero
        let fresh = new.filter { $0.index > floor }
        if let first = fresh.first {
            entries.removeAll { $0.index >= first.index }
            if let last = entries.last {
                precondition(last.index.advanced(by: 1) == first.index, "durable log must stay contiguous")
            } else {
                precondition(first.index == floor.advanced(by: 1), "durable log must follow the snapshot")
            }
            entries.append(contentsOf: fresh)
        }
        if let hs { hardState = hs }
    }

    /// The host took a snapshot: keep it and drop the entries it covers.
    mutating func compact(to snap: Snapshot) {
        snapshot = snap
        entries.removeAll { $0.index <= snap.metadata.index }
    }

    /// What a restarted node starts from. The state machine is volatile: it is rebuilt from the
    /// snapshot, and the core hands the committed entries after it out again.
    var restored: RestoredState {
        guard let snap = snapshot else {
            return RestoredState(hardState: hardState, snapshot: nil, entries: entries, confState: ConfState(), applied: .zero)
        }
        var hs = hardState
        if hs.commit < snap.metadata.index { hs.commit = snap.metadata.index }
        return RestoredState(
            hardState: hs, snapshot: snap.metadata, entries: entries, confState: snap.metadata.confState,
            applied: snap.metadata.index, snapshotData: snap.data
        )
    }
}

/// The state machine of the simulation: the list of client values applied, in log order.
enum SimStateMachine {
    /// Client writes carry an 8-byte value; anything else (no-ops) applies as nothing.
    static func value(of entry: Entry) -> UInt64? {
        guard entry.kind == .normal, entry.data.count == 8 else { return nil }
        return decodeValue(entry.data[...])
    }

    static func encodeValue(_ v: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: v >> UInt64(8 * $0)) }
    }

    static func decodeValue(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var v: UInt64 = 0
        for (i, b) in bytes.enumerated() { v |= UInt64(b) << UInt64(8 * i) }
        return v
    }

    static func encodeSnapshot(_ values: [UInt64]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(values.count * 8)
        for v in values { out.append(contentsOf: encodeValue(v)) }
        return out
    }

    static func decodeSnapshot(_ data: [UInt8]) -> [UInt64] {
        precondition(data.count % 8 == 0, "snapshot data is a list of 8-byte values")
        return stride(from: 0, to: data.count, by: 8).map { decodeValue(data[$0..<$0 + 8]) }
    }
}
