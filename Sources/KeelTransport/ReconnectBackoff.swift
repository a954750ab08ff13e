/// How long to wait before redialling a peer.
enum ReconnectBackoff {
    /// Exponential backoff with jitter: `base * 2^(failures-1)`, capped at the maximum, then a
    /// uniform pick in [delay/2, delay] so peers that failed together do not redial in lockstep.
    static func delay(failures: Int, config: TransportConfig, random: inout some RandomNumberGenerator) -> Duration {
        let exponent = min(max(failures - 1, 0), 30)
        let base = config.reconnectDelayBase * (1 << exponent)
        let delay = min(base, config.reconnectDelayMax)
        let nanoseconds = Int64(delay.components.seconds) * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000
        return .nanoseconds(Int64.random(in: (nanoseconds / 2)...max(nanoseconds, 1), using: &random))
    }

    static func delay(failures: Int, config: TransportConfig) -> Duration {
        var random = SystemRandomNumberGenerator()
        return delay(failures: failures, config: config, random: &random)
    }
}
