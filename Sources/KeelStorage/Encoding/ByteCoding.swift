/// Appends fixed-width big-endian integers and length-prefixed byte strings. Big-endian keys sort
/// numerically under RocksDB's bytewise comparator.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }
    mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }
    mutating func i64(_ value: Int64) { u64(UInt64(bitPattern: value)) }
    mutating func raw(_ value: [UInt8]) { bytes.append(contentsOf: value) }
    /// A byte string with its length in front.
    mutating func blob(_ value: [UInt8]) {
        u32(UInt32(value.count))
        bytes.append(contentsOf: value)
    }
    mutating func nodeSet(_ value: Set<NodeIDRaw>) {
        u32(UInt32(value.count))
        for id in value.sorted() { u64(id) }
    }
}

typealias NodeIDRaw = UInt64

/// Reads what ``ByteWriter`` wrote; every overrun is a corruption error naming what was being read.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var offset: Int
    private let end: Int
    /// Names the record in error messages; built only when an error is reported, because hot read
    /// paths decode many records.
    private let describe: () -> String
    var what: String { describe() }

    init(_ bytes: [UInt8], what: @autoclosure @escaping () -> String, from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        self.offset = start
        self.end = end ?? bytes.count
        self.describe = what
    }

    var isAtEnd: Bool { offset == end }
    var remaining: Int { end - offset }

    private mutating func take(_ count: Int) throws -> Range<Int> {
        guard count >= 0, count <= end - offset else {
            throw StorageError.corruption("\(what): truncated at byte \(offset), needed \(count) more")
        }
        defer { offset += count }
        return offset..<(offset + count)
    }

    mutating func u8() throws -> UInt8 { bytes[try take(1).lowerBound] }
    mutating func bool() throws -> Bool {
        let value = try u8()
        guard value <= 1 else { throw StorageError.corruption("\(what): bad boolean \(value)") }
        return value == 1
    }
    mutating func u32() throws -> UInt32 {
        var value: UInt32 = 0
        for index in try take(4) { value = value << 8 | UInt32(bytes[index]) }
        return value
    }
    mutating func u64() throws -> UInt64 {
        var value: UInt64 = 0
        for index in try take(8) { value = value << 8 | UInt64(bytes[index]) }
        return value
    }
    mutating func i64() throws -> Int64 { Int64(bitPattern: try u64()) }
    mutating func raw(_ count: Int) throws -> [UInt8] { Array(bytes[try take(count)]) }
    mutating func blob() throws -> [UInt8] { try raw(Int(try u32())) }
    mutating func nodeSet() throws -> Set<NodeIDRaw> {
        let count = Int(try u32())
        guard count <= remaining / 8 else { throw StorageError.corruption("\(what): node set of \(count) overruns") }
        var set = Set<NodeIDRaw>()
        for _ in 0..<count { set.insert(try u64()) }
        return set
    }

    /// Fails unless every byte was consumed, so trailing garbage is noticed.
    func finish() throws {
        guard isAtEnd else { throw StorageError.corruption("\(what): \(remaining) unexpected trailing bytes") }
    }
}

/// Big-endian bytes of an integer, the key form for ordered numeric keys.
func bigEndianKey(_ value: UInt64) -> [UInt8] {
    var writer = ByteWriter(capacity: 8)
    writer.u64(value)
    return writer.bytes
}
