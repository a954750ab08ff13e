import NIOCore
import Raft
import XCTest

@testable import KeelTransport
import KeelChecksum

final class CodecTests: XCTestCase {
    func testCRC32CMatchesTheCastagnoliCheckValue() {
        XCTAssertEqual(CRC32C.update(0, Array("123456789".utf8)), 0xE306_9283)
        // Continuing over two pieces equals one pass.
        let whole = CRC32C.update(0, Array("hello, world".utf8))
        XCTAssertEqual(CRC32C.update(CRC32C.update(0, Array("hello".utf8)), Array(", world".utf8)), whole)
    }

    func testRandomMessagesOfEveryKindRoundTripWithExactSize() throws {
        var generator = MessageGenerator(random: SeededGenerator(seed: 20261129))
        var seenTypes = Set<UInt8>()
        var seenCases = Set<Int>()
        for _ in 0..<3000 {
            let message = generator.peerMessage()
            var buffer = ByteBuffer()
            PeerMessageCodec.encode(message, into: &buffer)
            XCTAssertEqual(buffer.readableBytes, PeerMessageCodec.encodedByteCount(message))
            XCTAssertEqual(try PeerMessageCodec.decode(buffer), message)
            switch message {
            case .raft(let raft): seenCases.insert(0); seenTypes.insert(raft.type.rawValue)
            case .proposal: seenCases.insert(1)
            case .proposalRejected: seenCases.insert(2)
            case .leaseRequest: seenCases.insert(3)
            case .leaseAnswer: seenCases.insert(4)
            }
        }
        XCTAssertEqual(seenCases, [0, 1, 2, 3, 4])
        XCTAssertEqual(seenTypes, Set(0...11), "every Raft message type was exercised")
    }

    func testBatchesRoundTripThroughFrames() throws {
        var generator = MessageGenerator(random: SeededGenerator(seed: 7))
        var stream = ByteBuffer()
        var sent: [[PeerMessage]] = []
        for _ in 0..<50 {
            let batch = (0..<Int.random(in: 1...20, using: &generator.random)).map { _ in generator.peerMessage() }
            sent.append(batch)
            var frame = FrameCodec.encode(kind: .messages, payload: MessageBatch.encode(batch))
            stream.writeBuffer(&frame)
        }
        // Feed the stream in small irregular pieces, as TCP may deliver it.
        var pending = ByteBuffer()
        var received: [[PeerMessage]] = []
        while stream.readableBytes > 0 {
            var piece = stream.readSlice(length: min(stream.readableBytes, Int.random(in: 1...700, using: &generator.random)))!
            pending.writeBuffer(&piece)
            while let frame = try FrameCodec.decode(from: &pending) {
                XCTAssertEqual(frame.kind, .messages)
                received.append(try MessageBatch.decode(frame.payload))
            }
        }
        XCTAssertEqual(received, sent)
        XCTAssertNoThrow(try FrameCodec.checkNothingLeft(pending))
    }

    func testSnapshotIsSplitIntoBoundedChunksAndReassembled() throws {
        var random = SeededGenerator(seed: 3)
        let image = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &random) }
        let conf = ConfState(voters: Set([1, 2, 3].map(NodeID.init)), learners: [NodeID(4)])
        let message = Message(type: .installSnapshot, from: NodeID(1), to: NodeID(2), term: Term(5),
                              snapshot: Snapshot(metadata: SnapshotMetadata(index: LogIndex(900), term: Term(4), confState: conf), data: image))
        let frames = SnapshotSplitter.frames(for: message, streamID: 1, chunkBytes: 64 << 10)
        XCTAssertEqual(frames.count, 1 + 5, "begin frame plus ceil(300000 / 65536) chunks")
        var assembler = SnapshotAssembler(totalBytesMax: 1 << 20)
        var result: Message?
        for var frame in frames {
            let decoded = try XCTUnwrap(try FrameCodec.decode(from: &frame))
            XCTAssertLessThanOrEqual(decoded.payload.readableBytes, (64 << 10) + 16)
            XCTAssertNil(result, "nothing may be delivered before the last chunk")
            switch decoded.kind {
            case .snapshotBegin: result = try assembler.begin(SnapshotBegin.decode(decoded.payload))
            case .snapshotChunk: result = try assembler.add(SnapshotChunk.decode(decoded.payload))
            default: XCTFail("unexpected \(decoded.kind)")
            }
        }
        XCTAssertEqual(result, message)
        XCTAssertFalse(assembler.inProgress)
    }

    func testSnapshotAssemblerRefusesOversizedAndOutOfOrderStreams() throws {
        let header = Message(type: .installSnapshot, from: NodeID(1), to: NodeID(2),
                             snapshot: Snapshot(metadata: SnapshotMetadata(index: LogIndex(1), term: Term(1), confState: ConfState())))
        var assembler = SnapshotAssembler(totalBytesMax: 1000)
        XCTAssertThrowsError(try assembler.begin(SnapshotBegin(streamID: 1, totalBytes: 1001, header: header))) {
            XCTAssertEqual(($0 as? TransportError)?.code, .snapshotTooLarge)
        }
        XCTAssertNil(try assembler.begin(SnapshotBegin(streamID: 2, totalBytes: 10, header: header)))
        XCTAssertThrowsError(try assembler.add(SnapshotChunk(streamID: 2, offset: 5, bytes: ByteBuffer(bytes: [1, 2])))) {
            XCTAssertEqual(($0 as? TransportError)?.code, .protocolViolation)
        }
        XCTAssertThrowsError(try assembler.add(SnapshotChunk(streamID: 2, offset: 0, bytes: ByteBuffer(bytes: Array(repeating: 0, count: 11))))) {
            XCTAssertEqual(($0 as? TransportError)?.code, .protocolViolation, "a chunk may not overrun the declared size")
        }
    }

    // MARK: Refusals

    private func frameError(_ bytes: [UInt8]) -> TransportError? {
        var buffer = ByteBuffer(bytes: bytes)
        do {
            _ = try FrameCodec.decode(from: &buffer)
            return nil
        } catch {
            return error
        }
    }

    private func validFrame(seed: UInt64 = 1) -> [UInt8] {
        var generator = MessageGenerator(random: SeededGenerator(seed: seed))
        let frame = FrameCodec.encode(kind: .messages, payload: MessageBatch.encode([generator.peerMessage(), generator.peerMessage()]))
        return Array(frame.readableBytesView)
    }

    func testForgedAndOversizedLengthsAreRefusedFromTheLengthPrefixAlone() {
        // Only the 4-byte prefix is present: the decoder must refuse without waiting for the body.
        XCTAssertEqual(frameError([0xFF, 0xFF, 0xFF, 0xFF])?.code, .frameTooLarge)
        let oneTooMany = UInt32(WireFormat.frameBytesMax + 1)
        XCTAssertEqual(frameError(withUnsafeBytes(of: oneTooMany.bigEndian, Array.init))?.code, .frameTooLarge)
        XCTAssertEqual(frameError([0, 0, 0, 5, WireFormat.version])?.code, .frameTooSmall)
        // The largest legal length is merely incomplete, not an error.
        let largest = UInt32(WireFormat.frameBytesMax)
        XCTAssertNil(frameError(withUnsafeBytes(of: largest.bigEndian, Array.init) + [WireFormat.version]))
    }

    func testWrongVersionIsRefusedBeforeTheBodyArrives() {
        var bytes = validFrame()
        bytes[4] = WireFormat.version + 1
        XCTAssertEqual(frameError(Array(bytes.prefix(6)))?.code, .unsupportedVersion)
        XCTAssertTrue(frameError(bytes)?.message.contains("version \(WireFormat.version + 1)") ?? false)
    }

    func testEverySingleByteCorruptionIsDetected() {
        let frame = validFrame(seed: 11)
        for position in 4..<frame.count {
            var corrupted = frame
            corrupted[position] ^= 0x5A
            XCTAssertNotNil(frameError(corrupted), "corruption at byte \(position) went unnoticed")
        }
        var unknownKind = frame
        unknownKind[5] = 99
        // Checksum covers the kind byte, so fix it up to reach the kind check.
        let payload = Array(frame[10...])
        let crc = CRC32C.update(CRC32C.update(0, [99]), payload)
        withUnsafeBytes(of: crc.bigEndian) { unknownKind.replaceSubrange(6..<10, with: $0) }
        XCTAssertEqual(frameError(unknownKind)?.code, .unknownFrameKind)
    }

    func testTruncatedFramesWaitThenFailAtEndOfStream() throws {
        let frame = validFrame(seed: 5)
        for length in [1, 3, 4, 9, frame.count / 2, frame.count - 1] {
            var buffer = ByteBuffer(bytes: frame.prefix(length))
            XCTAssertNil(try FrameCodec.decode(from: &buffer), "a partial frame is not yet an error")
            XCTAssertEqual(buffer.readableBytes, length, "nothing consumed")
            XCTAssertThrowsError(try FrameCodec.checkNothingLeft(buffer)) {
                XCTAssertEqual(($0 as? TransportError)?.code, .truncated)
            }
        }
    }

    func testEveryTruncationOfAMessagePayloadIsMalformed() {
        var generator = MessageGenerator(random: SeededGenerator(seed: 99))
        for _ in 0..<30 {
            let payload = MessageBatch.encode([generator.peerMessage()])
            let bytes = Array(payload.readableBytesView)
            for length in 0..<bytes.count {
                XCTAssertThrowsError(try MessageBatch.decode(ByteBuffer(bytes: bytes.prefix(length)))) {
                    XCTAssertEqual(($0 as? TransportError)?.code, .malformed)
                }
            }
            XCTAssertThrowsError(try MessageBatch.decode(ByteBuffer(bytes: bytes + [0])), "trailing bytes are refused")
        }
    }

    func testForgedInnerCountsAndLengthsAreRefusedWithoutAllocating() {
        // A batch claiming 4 billion messages in 5 bytes.
        XCTAssertEqual(decodeError([0xFF, 0xFF, 0xFF, 0xFF, 1])?.code, .malformed)
        // A proposal whose data length claims 4 GiB.
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(1))
        buffer.writeInteger(UInt8(2))
        for _ in 0..<3 { buffer.writeInteger(UInt64(1)) }
        buffer.writeInteger(UInt32.max)
        buffer.writeBytes([1, 2, 3])
        XCTAssertTrue(decodeError(Array(buffer.readableBytesView))?.message.contains("exceeds") ?? false)
        // A raft message with an unknown type byte, and an unknown message tag.
        XCTAssertTrue(decodeError([0, 0, 0, 1, 1, 200])?.message.contains("unknown raft message type 200") ?? false)
        XCTAssertTrue(decodeError([0, 0, 0, 1, 9])?.message.contains("unknown message tag 9") ?? false)
    }

    private func decodeError(_ bytes: [UInt8]) -> TransportError? {
        do {
            _ = try MessageBatch.decode(ByteBuffer(bytes: bytes))
            return nil
        } catch {
            return error
        }
    }

    func testRandomGarbageNeverCrashesAndIsRefused() {
        var random = SeededGenerator(seed: 424242)
        var refused = 0
        for _ in 0..<5000 {
            let garbage = (0..<Int.random(in: 0...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            var buffer = ByteBuffer(bytes: garbage)
            do {
                while try FrameCodec.decode(from: &buffer) != nil {}
            } catch {
                refused += 1
            }
            // Random payloads go straight to the message decoders too.
            _ = try? MessageBatch.decode(ByteBuffer(bytes: garbage))
            _ = try? Handshake.decode(ByteBuffer(bytes: garbage))
            _ = try? SnapshotBegin.decode(ByteBuffer(bytes: garbage))
        }
        // Garbage of 4+ bytes almost always has a bad length or version; shorter input just waits.
        XCTAssertGreaterThan(refused, 4500)
    }

    func testHandshakeRoundTrips() throws {
        let handshake = Handshake(clusterID: 0xDEAD_BEEF, sender: NodeID(3), receiver: NodeID(1),
                                  attributes: MemberAttributes(name: "node-3", clientURLs: ["http://10.0.0.3:2379", "http://h3:2379"]))
        XCTAssertEqual(try Handshake.decode(handshake.encoded()), handshake)
    }

    func testBackoffGrowsExponentiallyWithinJitterAndStaysBounded() {
        var config = TransportConfig()
        config.reconnectDelayBase = .milliseconds(100)
        config.reconnectDelayMax = .seconds(2)
        var random = SeededGenerator(seed: 1)
        for failures in 1...40 {
            let nominal = min(Duration.milliseconds(100) * (1 << min(failures - 1, 30)), .seconds(2))
            for _ in 0..<20 {
                let delay = ReconnectBackoff.delay(failures: failures, config: config, random: &random)
                XCTAssertGreaterThanOrEqual(delay, nominal / 2)
                XCTAssertLessThanOrEqual(delay, nominal)
            }
        }
    }
}
