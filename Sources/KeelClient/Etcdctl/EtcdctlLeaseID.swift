/// Lease IDs as etcdctl reads and writes them: in hexadecimal.
public enum EtcdctlLeaseID {
    /// Go's `%016x` of an `int64`: 16 lowercase hex digits, zero-padded, with a minus sign (counted
    /// in the width) for a negative ID, as etcdctl prints them.
    public static func format(_ id: Int64) -> String {
        let digits = String(id.magnitude, radix: 16)
        let sign = id < 0 ? "-" : ""
        let padding = max(0, 16 - sign.count - digits.count)
        return sign + String(repeating: "0", count: padding) + digits
    }

    /// A lease ID argument of `lease revoke`, `timetolive` and `keep-alive`, with etcdctl's message
    /// when it is not one.
    public static func parseArgument(_ text: String) throws(EtcdctlUsageError) -> Int64 {
        do {
            return try GoInteger.parse(text, base: 16)
        } catch {
            throw EtcdctlUsageError("bad lease ID arg (\(error)), expecting ID in Hex")
        }
    }

    /// The `--lease` flag of `put`, with etcdctl's (slightly different) message.
    public static func parseFlag(_ text: String) throws(EtcdctlUsageError) -> Int64 {
        do {
            return try GoInteger.parse(text, base: 16)
        } catch {
            throw EtcdctlUsageError("bad lease ID (\(error)), expecting ID in Hex")
        }
    }

    /// The TTL argument of `lease grant`, in seconds.
    public static func parseTTL(_ text: String) throws(EtcdctlUsageError) -> Int64 {
        do {
            return try GoInteger.parse(text, base: 10)
        } catch {
            throw EtcdctlUsageError("bad TTL (\(error))")
        }
    }
}
