import Raft

/// The data of a normal log entry: the proposing node and its request id around the KVCommand
/// bytes. Every replica applies the command; only the node holding a waiter for
/// (`origin`, `requestID`) answers a client with the result.
///
/// Layout: `version u8 | origin u64 | requestID u64 | command bytes` (big-endian).
struct EntryEnvelope: Equatable {
    static let version: UInt8 = 1
    static let headerBytes = 17

    var origin: NodeID
    var requestID: UInt64
    var command: [UInt8]

    func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.headerBytes + command.count)
        bytes.append(Self.version)
        appendBigEndian(origin.rawValue, to: &bytes)
        appendBigEndian(requestID, to: &bytes)
        bytes += command
        return bytes
    }

    /// Nil for data that is not an envelope (a leader's empty no-op). Every replica decides alike.
    init?(decoding data: [UInt8]) {
        guard data.count >= Self.headerBytes, data[0] == Self.version else { return nil }
        origin = NodeID(readBigEndian(data, at: 1))
        requestID = readBigEndian(data, at: 9)
        command = Array(data[Self.headerBytes...])
    }

    init(origin: NodeID, requestID: UInt64, command: [UInt8]) {
        self.origin = origin
        self.requestID = requestID
        self.command = command
    }
}

func appendBigEndian(_ value: UInt64, to bytes: inout [UInt8]) {
    for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
}

func appendBigEndian(_ value: UInt32, to bytes: inout [UInt8]) {
    for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
}

/// Reads 8 bytes at `offset`; the caller checked the length.
func readBigEndian(_ bytes: [UInt8], at offset: Int) -> UInt64 {
    var value: UInt64 = 0
    for i in 0..<8 { value = value << 8 | UInt64(bytes[offset + i]) }
    return value
}

/// A read's id as the context of a Raft read-index request.
enum ReadContext {
    static func encode(_ id: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        appendBigEndian(id, to: &bytes)
        return bytes
    }

    static func decode(_ context: [UInt8]) -> UInt64? {
        context.count == 8 ? readBigEndian(context, at: 0) : nil
    }
}
