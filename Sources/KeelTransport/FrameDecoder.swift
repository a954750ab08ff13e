import NIOCore

/// A frame read off a connection, with its size on the wire for the byte counters.
struct ReceivedFrame {
    var frame: Frame
    var wireBytes: Int
}

/// The NIO decoder in front of both connection handlers: bytes in, ``ReceivedFrame``s out. A bad
/// frame throws a ``TransportError``, which reaches the next handler's `errorCaught` (it closes).
struct FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ReceivedFrame

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let before = buffer.readableBytes
        guard let frame = try FrameCodec.decode(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(ReceivedFrame(frame: frame, wireBytes: before - buffer.readableBytes)))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        try FrameCodec.checkNothingLeft(buffer)
        return .needMoreData
    }
}
