import Synchronization

/// One endpoint's circuit breaker: after ``failuresToOpen`` failures in a row to reach it (no
/// connection, or `Unavailable`), calls skip it for a cooldown that doubles each time it opens again
/// (from ``cooldownMin`` to ``cooldownMax``), so a dead member costs one dial per cooldown rather
/// than one per call. When every endpoint's breaker is open, a call still tries them, soonest to
/// reopen first: a failing cluster is slowed, never refused by the client alone.
final class EndpointBreaker: Sendable {
    /// Failures in a row that open the breaker.
    static let failuresToOpen = 3
    /// The first cooldown.
    static let cooldownMin: Duration = .milliseconds(500)
    /// The longest cooldown.
    static let cooldownMax: Duration = .seconds(30)

    private struct State {
        var failuresInARow = 0
        var openUntil: ContinuousClock.Instant?
        var cooldown: Duration = EndpointBreaker.cooldownMin
    }

    private let state = Mutex(State())

    /// Whether calls should skip this endpoint at `now`.
    func isOpen(at now: ContinuousClock.Instant) -> Bool {
        state.withLock { state in state.openUntil.map { now < $0 } ?? false }
    }

    /// When the breaker lets calls through again (nil: it is closed).
    var reopensAt: ContinuousClock.Instant? { state.withLock { $0.openUntil } }

    /// An attempt reached the server and got an answer: the endpoint works.
    func recordSuccess() {
        state.withLock { state in
            state = State()
        }
    }

    /// An attempt could not reach the endpoint. Returns true when this opened the breaker.
    @discardableResult
    func recordFailure(at now: ContinuousClock.Instant) -> Bool {
        state.withLock { state in
            state.failuresInARow += 1
            guard state.failuresInARow >= Self.failuresToOpen else { return false }
            let wasOpen = state.openUntil != nil
            state.openUntil = now.advanced(by: state.cooldown)
            state.cooldown = min(state.cooldown * 2, Self.cooldownMax)
            state.failuresInARow = 0
            return !wasOpen
        }
    }
}

/// The client's retry budget (gRPC's retry throttling): every call that succeeds adds
/// ``tokensPerSuccess`` tokens, up to ``tokensMax``; every retry (a second or later attempt of one
/// call) spends one, and is allowed only while more than half the tokens are left. A healthy
/// cluster never feels it; a failing one gets at most about one retry per ten successful calls
/// instead of a storm of them.
final class RetryBudget: Sendable {
    /// The bucket's size.
    static let tokensMax = 10.0
    /// What a successful call earns.
    static let tokensPerSuccess = 0.1

    private let tokens = Mutex(RetryBudget.tokensMax)

    /// Spends a token for a retry; false when the budget is too low to retry.
    func spend() -> Bool {
        tokens.withLock { tokens in
            guard tokens > Self.tokensMax / 2 else { return false }
            tokens -= 1
            return true
        }
    }

    /// A call succeeded.
    func earn() {
        tokens.withLock { tokens in tokens = min(Self.tokensMax, tokens + Self.tokensPerSuccess) }
    }

    /// Tokens left (tests).
    var available: Double { tokens.withLock { $0 } }
}
