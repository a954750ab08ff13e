/// Go's duration syntax, which etcdctl's `--dial-timeout` and `--command-timeout` take: "2s", "500ms", "1m30s", "1.5s".
public enum GoDuration {
    /// The largest duration a flag may ask for: one day (a longer timeout is a typo).
    public static let flagSecondsMax: Double = 86_400

    /// Parses a duration, naming the text when it is not one.
    public static func parse(_ text: String) throws(EtcdctlUsageError) -> Duration {
        let units: [(String, Double)] = [("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]
        var rest = Substring(text)
        var seconds = 0.0
        guard !rest.isEmpty else { throw EtcdctlUsageError("invalid duration \"\(text)\"") }
        if rest == "0" { return .zero }
        while !rest.isEmpty {
            let number = rest.prefix(while: { $0.isNumber || $0 == "." })
            guard let value = Double(number) else { throw EtcdctlUsageError("invalid duration \"\(text)\"") }
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix(while: { !$0.isNumber && $0 != "." })
            guard let unit = units.first(where: { $0.0 == unitText }) else {
                throw EtcdctlUsageError("invalid duration \"\(text)\": unknown unit \"\(unitText)\"")
            }
            rest = rest.dropFirst(unitText.count)
            seconds += value * unit.1
        }
        guard seconds <= flagSecondsMax else {
            throw EtcdctlUsageError("invalid duration \"\(text)\": longer than \(Int(flagSecondsMax)) s")
        }
        return .nanoseconds(Int64((seconds * 1e9).rounded()))
    }
}
