import KeelChecksum
import Raft

/// Encodings of the Raft value types, each inside a checksummed ``Record`` frame.
enum RaftCoding {
    static func encode(_ entry: Entry) -> [UInt8] {
        var writer = Record.begin(capacity: entry.data.count + 21)
        writer.u64(entry.term.rawValue)
        writer.u64(entry.index.rawValue)
        writer.u8(entry.kind.rawValue)
        writer.blob(entry.data)
        return Record.seal(writer)
    }

    static func decodeEntry(_ bytes: [UInt8], what: String) throws -> Entry {
        var reader = try Record.open(bytes, what: what)
        let term = Term(try reader.u64())
        let index = LogIndex(try reader.u64())
        let kindRaw = try reader.u8()
        guard let kind = EntryKind(rawValue: kindRaw) else {
            throw StorageError.corruption("\(what): unknown entry kind \(kindRaw)")
        }
        let data = try reader.blob()
        try reader.finish()
        return Entry(term: term, index: index, kind: kind, data: data)
    }

    static func encode(_ state: HardState) -> [UInt8] {
        var writer = ByteWriter()
        writer.u64(state.term.rawValue)
        writer.u64(state.vote.rawValue)
        writer.u64(state.commit.rawValue)
        return Record.seal(writer.bytes)
    }

    static func decodeHardState(_ bytes: [UInt8]) throws -> HardState {
        var reader = try Record.open(bytes, what: "hard state")
        let state = HardState(term: Term(try reader.u64()), vote: NodeID(try reader.u64()), commit: LogIndex(try reader.u64()))
        try reader.finish()
        return state
    }

    static func write(_ conf: ConfState, into writer: inout ByteWriter) {
        writer.nodeSet(Set(conf.voters.map(\.rawValue)))
        writer.nodeSet(Set(conf.learners.map(\.rawValue)))
        writer.nodeSet(Set(conf.votersOutgoing.map(\.rawValue)))
        writer.nodeSet(Set(conf.learnersNext.map(\.rawValue)))
        writer.bool(conf.autoLeave)
    }

    static func readConfState(from reader: inout ByteReader) throws -> ConfState {
        func ids(_ raw: Set<UInt64>) -> Set<NodeID> { Set(raw.map(NodeID.init)) }
        return ConfState(
            voters: ids(try reader.nodeSet()), learners: ids(try reader.nodeSet()),
            votersOutgoing: ids(try reader.nodeSet()), learnersNext: ids(try reader.nodeSet()),
            autoLeave: try reader.bool())
    }

    static func encode(_ conf: ConfState) -> [UInt8] {
        var writer = ByteWriter()
        write(conf, into: &writer)
        return Record.seal(writer.bytes)
    }

    static func decodeConfState(_ bytes: [UInt8]) throws -> ConfState {
        var reader = try Record.open(bytes, what: "conf state")
        let conf = try readConfState(from: &reader)
        try reader.finish()
        return conf
    }

    static func encode(_ metadata: SnapshotMetadata) -> [UInt8] {
        var writer = ByteWriter()
        writer.u64(metadata.index.rawValue)
        writer.u64(metadata.term.rawValue)
        write(metadata.confState, into: &writer)
        return Record.seal(writer.bytes)
    }

    static func decodeSnapshotMetadata(_ bytes: [UInt8]) throws -> SnapshotMetadata {
        var reader = try Record.open(bytes, what: "snapshot metadata")
        let index = LogIndex(try reader.u64())
        let term = Term(try reader.u64())
        let conf = try readConfState(from: &reader)
        try reader.finish()
        return SnapshotMetadata(index: index, term: term, confState: conf)
    }
}

/// The log's unit of storage: the contiguous entries of one append, under one checksum, stored at
/// the big-endian index of its first entry. One RocksDB key per append instead of per entry keeps
/// memtable inserts off the synced append path (they were the largest CPU cost at 256 entries).
enum LogSegmentCoding {
    /// Encoded bytes per entry besides its data: term, index, kind, data length.
    static let entryOverheadBytes =
        MemoryLayout<UInt64>.size + MemoryLayout<UInt64>.size + MemoryLayout<UInt8>.size + MemoryLayout<UInt32>.size

    /// The segment's bytes: the ``Record`` frame around the entry count and the entries. Written in
    /// one pass into one exactly sized buffer, because it runs on the synced append path for every
    /// entry (256 entries took three appends per field and a copy of the whole segment before).
    static func encode(_ entries: ArraySlice<Entry>) -> [UInt8] {
        precondition(!entries.isEmpty, "a segment holds at least one entry")
        let bodyBytes = 1 + 4 + entries.reduce(0) { $0 + $1.data.count + entryOverheadBytes }
        let totalBytes = bodyBytes + 4
        return [UInt8](unsafeUninitializedCapacity: totalBytes) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            var offset = 0
            // Every write is checked against the computed size, so a field added here but not to
            // entryOverheadBytes stops the process instead of writing past the buffer.
            func store<Value: FixedWidthInteger>(_ value: Value) {
                precondition(offset + MemoryLayout<Value>.size <= totalBytes, "log segment encoding overruns its size")
                raw.storeBytes(of: value.bigEndian, toByteOffset: offset, as: Value.self)
                offset += MemoryLayout<Value>.size
            }
            store(Record.formatVersion)
            store(UInt32(entries.count))
            for entry in entries {
                store(entry.term.rawValue)
                store(entry.index.rawValue)
                store(entry.kind.rawValue)
                store(UInt32(entry.data.count))
                precondition(offset + entry.data.count <= totalBytes, "log segment encoding overruns its size")
                entry.data.withUnsafeBytes { data in
                    if let source = data.baseAddress {
                        raw.baseAddress!.advanced(by: offset).copyMemory(from: source, byteCount: data.count)
                    }
                }
                offset += entry.data.count
            }
            precondition(offset == bodyBytes, "segment size computed as \(bodyBytes), wrote \(offset)")
            store(CRC32C.update(0, UnsafeRawBufferPointer(rebasing: raw[0..<offset])))
            initialized = offset
        }
    }

    /// Decodes a segment stored at `first`, checking that its entries are contiguous from there.
    static func decode(_ bytes: [UInt8], first: LogIndex) throws -> [Entry] {
        let what = "raft log segment at entry \(first)"
        var reader = try Record.open(bytes, what: what)
        let count = Int(try reader.u32())
        guard count > 0, count <= reader.remaining / entryOverheadBytes else {
            throw StorageError.corruption("\(what): impossible entry count \(count)")
        }
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        for offset in 0..<count {
            let term = Term(try reader.u64())
            let index = LogIndex(try reader.u64())
            let kindRaw = try reader.u8()
            guard let kind = EntryKind(rawValue: kindRaw) else {
                throw StorageError.corruption("\(what): entry \(index) has unknown kind \(kindRaw)")
            }
            let expected = first.advanced(by: Int64(offset))
            guard index == expected else {
                throw StorageError.corruption("\(what): expected entry \(expected) but found \(index)")
            }
            entries.append(Entry(term: term, index: index, kind: kind, data: try reader.blob()))
        }
        try reader.finish()
        return entries
    }
}
