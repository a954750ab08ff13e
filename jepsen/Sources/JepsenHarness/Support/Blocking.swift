// Blocking work (subprocesses, waitpid, sleeps in cleanup loops) off Swift's cooperative thread
// pool, which has one thread per core here: a nemesis running two dozen `ip netns exec iptables`
// commands must not hold a thread that client completions need.
import Dispatch

/// Runs blocking closures on threads of their own and resumes the caller when they finish.
enum Blocking {
    private static let queue = DispatchQueue(label: "keel.jepsen.blocking", attributes: .concurrent)

    /// Runs `body` on a blocking-work thread.
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
        }
    }

    /// Runs a `body` that cannot fail on a blocking-work thread.
    static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: body()) }
        }
    }
}
