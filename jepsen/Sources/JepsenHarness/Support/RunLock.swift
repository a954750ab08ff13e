// One `jepsen test` per machine: the namespaces, bridge and addresses are fixed names, so a second
// run would tear down the first one's cluster.
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// An exclusive lock on a file, held for the life of the process (the kernel drops it when the
/// process dies, so a SIGKILLed run never leaves it held).
public final class RunLock {
    /// Where the lock lives unless told otherwise.
    public static let defaultPath = "/run/lock/keel-jepsen.lock"

    private let descriptor: Int32

    /// Takes the lock or throws saying which process holds it.
    public init(path: String = RunLock.defaultPath) throws(HarnessError) {
        let directory = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw HarnessError(.cannotRun, "cannot open the lock file \(path): \(errnoText())")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            var holder = [UInt8](repeating: 0, count: 32)
            let count = pread(descriptor, &holder, holder.count, 0)
            let pid = count > 0 ? String(decoding: holder[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            close(descriptor)
            throw HarnessError(.cannotRun, "another jepsen test is running on this machine (pid \(pid), lock \(path))")
        }
        ftruncate(descriptor, 0)
        let text = "\(getpid())\n"
        _ = text.withCString { pwrite(descriptor, $0, strlen($0), 0) }
        self.descriptor = descriptor
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

/// Why the harness could not run a test (exit status 3), or a fault it could not inject.
public struct HarnessError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: String { case cannotRun = "cannot run", setupFailed = "setup failed", unsupported }
        private let kind: Kind
        /// The machine or the flags do not allow the test (not root, bad option, lock held).
        public static let cannotRun = Code(kind: .cannotRun)
        /// Building the cluster or injecting a fault failed.
        public static let setupFailed = Code(kind: .setupFailed)
        /// The server does not support what was asked (for example membership changes).
        public static let unsupported = Code(kind: .unsupported)
        /// The code's name.
        public var description: String { kind.rawValue }
    }

    /// What kind of failure.
    public var code: Code
    /// What went wrong, for a person.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
