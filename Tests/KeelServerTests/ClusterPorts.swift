import Foundation

/// Free loopback ports for one test's cluster, so tests never collide with each other, with a
/// cluster a person runs on 2379, or with another test run on the same machine.
enum ClusterPorts {
    /// Binds `count` sockets to 127.0.0.1 port 0 at the same time (so the kernel hands out distinct
    /// ports), reads the ports and closes the sockets. Another program could take one before the
    /// node binds it; the node then fails to start and the test says so with the node's log.
    static func reserve(_ count: Int) throws -> [Int] {
        precondition(count > 0)
        var sockets: [Int32] = []
        defer { for socket in sockets { close(socket) } }
        var ports: [Int] = []
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw ClusterTestError("socket() failed: errno \(errno)") }
            sockets.append(fd)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = 0
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0 else { throw ClusterTestError("bind(127.0.0.1:0) failed: errno \(errno)") }
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let named = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            guard named == 0 else { throw ClusterTestError("getsockname failed: errno \(errno)") }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
        }
        return ports
    }

    /// A base port with `count` consecutive free ports from it, for cluster/keel-cluster's
    /// `KEEL_CLUSTER_BASE_PORT` (which numbers ports instead of asking the kernel).
    static func consecutiveFreeBase(_ count: Int, attemptsMax: Int = 50) throws -> Int {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<attemptsMax {
            let base = Int.random(in: 20_000...50_000, using: &generator)
            if (base..<(base + count)).allSatisfy(isFree) { return base }
        }
        throw ClusterTestError("no \(count) consecutive free loopback ports found in \(attemptsMax) attempts")
    }

    /// Whether 127.0.0.1:`port` can be bound right now.
    static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
