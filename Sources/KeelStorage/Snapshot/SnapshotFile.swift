import KeelChecksum

/// A snapshot stream stored as one file (`kvctl snapshot save`): its chunks back to back, each
/// carrying its own length, sequence and checksum, the last one the trailer over all of them;
/// then, as etcd's files end, zeros up to a multiple of 512 bytes and a SHA-256 of all before it.
public enum SnapshotFile {
    /// The size the file is padded to before its SHA-256 (etcdctl checks size % 512 == 32).
    public static let alignmentBytes = 512
    static let digestBytes = 32

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
            let isTrailer = bytes[offset + 8] == SnapshotFormat.Kind.trailer.rawValue
            offset += total
            if isTrailer { try checkTail(bytes, from: offset) }
            if isTrailer { break }
        }
        return chunks
    }

    /// After the trailer: nothing (a bare stream), or zero padding and the SHA-256 of the rest.
    private static func checkTail(_ bytes: [UInt8], from offset: Int) throws {
        let tail = bytes.count - offset
        guard tail > 0 else { return }
        guard tail >= digestBytes, bytes[offset..<(bytes.count - digestBytes)].allSatisfy({ $0 == 0 }) else {
            throw StorageError(.snapshotInvalid, "snapshot file: \(tail) bytes after the trailer are not padding and a SHA-256")
        }
        var digest = SHA256()
        digest.update(bytes[0..<(bytes.count - digestBytes)])
        guard digest.finalize() == Array(bytes[(bytes.count - digestBytes)...]) else {
            throw StorageError(.snapshotInvalid, "snapshot file: SHA-256 mismatch")
        }
    }
}
