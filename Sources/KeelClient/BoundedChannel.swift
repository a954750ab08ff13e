import Synchronization

/// A hand-off between one producer task and one consumer that holds at most `capacity` elements:
/// ``send(_:)`` suspends while it is full, so a slow reader slows the producer (and, through it,
/// the gRPC stream's flow control) instead of growing a buffer.
///
/// It ends once: the producer calls ``finish(throwing:)``, or the consumer calls ``cancel()``
/// (then every ``send(_:)`` returns false at once and buffered elements are dropped).
final class BoundedChannel<Element: Sendable>: Sendable {
    private struct State {
        var buffer: [Element] = []
        /// Set when the producer finished: nil error for a clean end.
        var end: (any Error)?? = nil
        var cancelled = false
        /// The consumer waiting in `next()`.
        var consumer: CheckedContinuation<Element?, any Error>?
        /// The producer waiting for room in `send(_:)`; resumed with whether to carry on.
        var producer: CheckedContinuation<Bool, Never>?
    }

    private enum SendStep {
        case delivered(CheckedContinuation<Element?, any Error>?)
        case stop
        case wait
    }

    private enum NextStep {
        case element(Element, CheckedContinuation<Bool, Never>?)
        case end((any Error)?)
        case wait
    }

    /// Invariant: `buffer.count <= capacity`.
    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        precondition(capacity > 0, "a channel holds at least one element")
        self.capacity = capacity
    }

    /// Hands `element` over, waiting while the buffer is full. False: the consumer is gone (or the
    /// producing task was cancelled), so the producer should stop.
    func send(_ element: Element) async -> Bool {
        while true {
            let step: SendStep = state.withLock { state in
                if state.cancelled || state.end != nil { return .stop }
                if let consumer = state.consumer {
                    precondition(state.buffer.isEmpty, "a consumer waits only on an empty buffer")
                    state.consumer = nil
                    return .delivered(consumer)
                }
                if state.buffer.count < capacity {
                    state.buffer.append(element)
                    return .delivered(nil)
                }
                return .wait
            }
            switch step {
            case .delivered(let consumer):
                consumer?.resume(returning: element)
                return true
            case .stop:
                return false
            case .wait:
                let carryOn = await withTaskCancellationHandler {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                        let resumeNow: Bool? = state.withLock { state in
                            if state.cancelled || state.end != nil || Task.isCancelled { return false }
                            if state.buffer.count < capacity { return true }
                            precondition(state.producer == nil, "one producer at a time")
                            state.producer = continuation
                            return nil
                        }
                        if let resumeNow { continuation.resume(returning: resumeNow) }
                    }
                } onCancel: {
                    let waiting = state.withLock { state in
                        let producer = state.producer
                        state.producer = nil
                        return producer
                    }
                    waiting?.resume(returning: false)
                }
                guard carryOn, !Task.isCancelled else { return false }
            }
        }
    }

    /// Ends the channel: the consumer reads what is buffered, then nil (or `error`).
    func finish(throwing error: (any Error)? = nil) {
        let consumer: CheckedContinuation<Element?, any Error>? = state.withLock { state in
            guard state.end == nil else { return nil }
            state.end = .some(error)
            guard let consumer = state.consumer else { return nil }
            state.consumer = nil
            return consumer
        }
        if let error {
            consumer?.resume(throwing: error)
        } else {
            consumer?.resume(returning: nil)
        }
    }

    /// The consumer is gone: drop the buffer and stop the producer.
    func cancel() {
        let (producer, consumer) = state.withLock { state in
            state.cancelled = true
            state.buffer = []
            let waiting = (state.producer, state.consumer)
            state.producer = nil
            state.consumer = nil
            return waiting
        }
        producer?.resume(returning: false)
        consumer?.resume(returning: nil)
    }

    /// The next element; nil at a clean end or after ``cancel()``; throws the producer's error.
    func next() async throws -> Element? {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Element?, any Error>) in
            let step: NextStep = state.withLock { state in
                if !state.buffer.isEmpty {
                    let element = state.buffer.removeFirst()
                    let producer = state.producer
                    state.producer = nil
                    return .element(element, producer)
                }
                if state.cancelled { return .end(nil) }
                if let end = state.end {
                    // The error is reported once; later calls see a clean end.
                    state.end = .some(nil)
                    return .end(end)
                }
                precondition(state.consumer == nil, "one consumer at a time")
                state.consumer = continuation
                return .wait
            }
            switch step {
            case .element(let element, let producer):
                producer?.resume(returning: true)
                continuation.resume(returning: element)
            case .end(let error):
                if let error {
                    continuation.resume(throwing: error)
                } else {
                    continuation.resume(returning: nil)
                }
            case .wait:
                break
            }
        }
    }
}
