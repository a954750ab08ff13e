/// A snapshot stream stored as one file (`kvctl snapshot save`): its chunks back to back, each
/// carrying its own length, sequence and checksum, the last one the trailer over all of them.
public enum SnapshotFile {
    /// The bytes before a chunk's payload: magic, sequence, kind and the payload's length.
    static let chunkPrefixBytes = 13

    /// The file's chunks, in order, each checked only for a plausible size (a receiver checks the
    /// rest); a torn tail is refused.
    public static func chunks(in bytes: [UInt8]) throws -> [[UInt8]] {
        var chunks: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= chunkPrefixBytes else {
                throw StorageError(.snapshotInvalid, "snapshot file: \(bytes.count - offset) bytes at the end are not a chunk")
            }
            var reader = ByteReader(bytes, what: "snapshot file", from: offset + 9, to: offset + chunkPrefixBytes)
            let payloadBytes = Int(try reader.u32())
            let total = chunkPrefixBytes + payloadBytes + 4
            guard total <= SnapshotFormat.chunkBytesMax, offset + total <= bytes.count else {
                throw StorageError(.snapshotInvalid, "snapshot file: chunk at byte \(offset) of \(total) bytes runs past the end")
            }
            chunks.append(Array(bytes[offset..<(offset + total)]))
            offset += total
        }
        return chunks
    }
}
