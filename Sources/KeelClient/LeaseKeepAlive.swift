public import KeelProto

/// The answers to a lease's background renewals, from ``KeelClient/keepAlive(id:)``: one
/// `LeaseKeepAliveResponse` (the lease's ID and its renewed TTL) per renewal.
///
/// The sequence ends with an error when the lease is gone: ``KeelClientError`` code `notFound`
/// ("etcdserver: requested lease not found") when a server answers a renewal with TTL 0 (the lease
/// expired or was revoked), code `deadlineExceeded` when no renewal got through before the lease's
/// TTL ran out, or the server's own error when it refuses the stream for good (`unimplemented`, for
/// example). It never ends without an error while the lease lives, unless iteration is cancelled.
///
/// The renewals stop, their stream is closed and their task ends when the task iterating the
/// sequence is cancelled, or when the sequence and every iterator of it are dropped. Until then
/// the lease is renewed whether or not anyone reads the answers; an unread answer waits in a buffer
/// of ``KeelClient/keepAliveAnswersBufferedMax`` and the oldest is dropped beyond it.
///
/// Iterate it from one task at a time.
public struct LeaseKeepAlive: AsyncSequence, Sendable {
    /// One renewal's answer.
    public typealias Element = LeaseKeepAliveResponse

    /// The lease being renewed.
    public let id: Int64
    let answers: AsyncThrowingStream<LeaseKeepAliveResponse, any Error>

    /// Makes the iterator over the answers.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: answers.makeAsyncIterator())
    }

    /// Reads the answers in order.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<LeaseKeepAliveResponse, any Error>.AsyncIterator

        /// The next answer; nil once iteration was cancelled; throws when the lease is gone.
        public mutating func next() async throws -> LeaseKeepAliveResponse? {
            try await base.next()
        }
    }
}

extension KeelClient {
    /// Answers a keep-alive holds for a reader that is behind; older ones are dropped. etcd's client
    /// buffers as many.
    public static let keepAliveAnswersBufferedMax = 16

    /// Keeps a lease alive until the returned sequence is dropped or its reader is cancelled.
    ///
    /// As etcd's client does, it opens etcd's bidirectional `Lease.LeaseKeepAlive` stream, renews at
    /// once and then a third of the TTL after each answer, so two renewals may fail before the lease
    /// expires. When a stream fails (the endpoint goes down, or does not answer a renewal within the
    /// dial timeout) it opens another on the next endpoint after a short pause, for as long as the
    /// lease is still alive by the last answer (the first answer must come within the command
    /// timeout). See ``LeaseKeepAlive`` for how the sequence ends.
    ///
    /// The renewals need the client running (``run()``); a client shut down gracefully waits for
    /// them, so drop the sequence first.
    public func keepAlive(id: Int64) -> LeaseKeepAlive {
        let (answers, continuation) = AsyncThrowingStream.makeStream(
            of: LeaseKeepAliveResponse.self, bufferingPolicy: .bufferingNewest(Self.keepAliveAnswersBufferedMax))
        let renewer = LeaseRenewer(client: self, id: id, answers: continuation)
        // Unstructured, so that the sequence can be handed out; it is bound to the sequence's
        // life instead: the stream calls onTermination when it is dropped or its reader is
        // cancelled, and the task only ever finishes the stream.
        let renewals = Task {
            do {
                try await renewer.run()
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in renewals.cancel() }
        return LeaseKeepAlive(id: id, answers: answers)
    }
}
