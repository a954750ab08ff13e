public import Foundation

/// Key-range arithmetic of etcd's API, shared by the client, kvctl and anyone building requests.
public enum KeyRange {
    /// The range_end that makes a request cover every key starting with `prefix`: the prefix with
    /// its last byte below 0xff incremented and what follows it dropped. A prefix of only 0xff bytes
    /// (or an empty prefix) has no such bound, so the answer is `[0]`, which etcd reads as "to the end".
    public static func prefixEnd(_ prefix: Data) -> Data {
        var end = Array(prefix)
        while let last = end.last {
            if last < 0xff {
                end[end.count - 1] = last + 1
                return Data(end)
            }
            end.removeLast()
        }
        return Data([0])
    }

    /// The range_end that covers every key from `key` on (etcdctl's `--from-key`).
    public static let fromKeyEnd = Data([0])
}
