/// Why the peer transport refused a frame, a connection or a configuration.
///
/// A struct with an opaque ``Code`` (STYLE.md: codes can be added without breaking a caller's
/// `switch`) and a message that names what was wrong.
public struct TransportError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The category of the failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: Sendable, Hashable {
            case frameTooLarge, frameTooSmall, truncated, unsupportedVersion, checksumMismatch
            case unknownFrameKind, malformed, handshakeRefused, protocolViolation, snapshotTooLarge
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A frame's length prefix exceeds ``WireFormat/frameBytesMax`` (or a forged length).
        public static let frameTooLarge = Code(.frameTooLarge)
        /// A frame's length prefix is smaller than its fixed header.
        public static let frameTooSmall = Code(.frameTooSmall)
        /// The connection ended in the middle of a frame.
        public static let truncated = Code(.truncated)
        /// The frame was written in a format version this build does not speak.
        public static let unsupportedVersion = Code(.unsupportedVersion)
        /// The frame's CRC32C does not match its contents.
        public static let checksumMismatch = Code(.checksumMismatch)
        /// The frame kind byte is not one this version defines.
        public static let unknownFrameKind = Code(.unknownFrameKind)
        /// The payload does not decode: short field, bad enum value, trailing bytes.
        public static let malformed = Code(.malformed)
        /// The handshake named another cluster, an unknown sender, or another receiver.
        public static let handshakeRefused = Code(.handshakeRefused)
        /// A well-formed frame arrived where the protocol does not allow it.
        public static let protocolViolation = Code(.protocolViolation)
        /// A streamed snapshot exceeds the receiver's bound.
        public static let snapshotTooLarge = Code(.snapshotTooLarge)

        /// The code's name.
        public var description: String { String(describing: value) }
    }

    /// The category.
    public var code: Code
    /// What exactly was wrong, for logs.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`.
    public var description: String { "\(code): \(message)" }
}
