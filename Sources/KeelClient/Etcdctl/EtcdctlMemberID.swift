/// Member ids as etcdctl reads and writes them: in hexadecimal, unsigned.
public enum EtcdctlMemberID {
    /// Go's `%16x` of a `uint64`, as the member add, remove, update and promote lines print ids:
    /// lowercase hex right-aligned in 16 columns, padded with spaces (not zeros) when shorter.
    public static func padded(_ id: UInt64) -> String {
        let digits = String(id, radix: 16)
        return String(repeating: " ", count: max(0, 16 - digits.count)) + digits
    }

    /// The ID argument of `member remove`, `update` and `promote`, with etcdctl's message when it
    /// is not one.
    public static func parseArgument(_ text: String) throws(EtcdctlUsageError) -> UInt64 {
        do {
            return try GoInteger.parseUnsigned(text, base: 16)
        } catch {
            throw EtcdctlUsageError("bad member ID arg (\(error)), expecting ID in Hex")
        }
    }
}
