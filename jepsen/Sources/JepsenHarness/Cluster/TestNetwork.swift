// The network a test cluster lives on: one namespace per node, each with a veth pair whose host end
// sits on one bridge, and one address per node. Every name starts with a fixed prefix, so a run that
// was killed is cleaned up by the next one (or by `jepsen clean`) without any record of it.
import Foundation

/// The namespaces, bridge and addresses of a test cluster, and their setup and removal.
public struct TestNetwork: Sendable {
    /// The bridge in the root namespace that joins the nodes and the harness's clients.
    public static let bridgeName = "keelj0"
    /// Every namespace the harness makes starts with this.
    public static let namespacePrefix = "keelj-n"
    /// Every host-side veth starts with this.
    public static let vethPrefix = "keelj-v"
    /// The first three octets of every address (a /24 used only inside this machine's namespaces).
    public static let subnetPrefix = "10.47.0"
    /// The bridge's own address, which the clients use as their source.
    public static let bridgeAddress = "\(subnetPrefix).1"
    /// At most this many nodes (addresses .11 to .19).
    public static let nodesMax = 9

    /// How many nodes.
    public let nodeCount: Int

    /// A network for `nodeCount` nodes; nothing is created until ``create()``.
    public init(nodeCount: Int) {
        precondition((1...Self.nodesMax).contains(nodeCount), "1...\(Self.nodesMax) nodes")
        self.nodeCount = nodeCount
    }

    /// The namespace of node `index` (0-based).
    public static func namespace(_ index: Int) -> String { "\(namespacePrefix)\(index + 1)" }
    /// The address of node `index`.
    public static func address(_ index: Int) -> String { "\(subnetPrefix).\(11 + index)" }
    /// The host-side veth of node `index`.
    static func veth(_ index: Int) -> String { "\(vethPrefix)\(index + 1)" }

    /// Creates the bridge, the namespaces and the links; on failure removes what it made and throws.
    public func create() throws(HarnessError) {
        do {
            try Subprocess.check(["ip", "link", "add", Self.bridgeName, "type", "bridge"])
            try Subprocess.check(["ip", "addr", "add", "\(Self.bridgeAddress)/24", "dev", Self.bridgeName])
            try Subprocess.check(["ip", "link", "set", Self.bridgeName, "up"])
            for index in 0..<nodeCount {
                let namespace = Self.namespace(index)
                try Subprocess.check(["ip", "netns", "add", namespace])
                try Subprocess.check([
                    "ip", "link", "add", Self.veth(index), "type", "veth", "peer", "name", "eth0", "netns", namespace,
                ])
                try Subprocess.check(["ip", "link", "set", Self.veth(index), "master", Self.bridgeName, "up"])
                try Subprocess.check(["ip", "-n", namespace, "addr", "add", "\(Self.address(index))/24", "dev", "eth0"])
                try Subprocess.check(["ip", "-n", namespace, "link", "set", "eth0", "up"])
                try Subprocess.check(["ip", "-n", namespace, "link", "set", "lo", "up"])
            }
        } catch {
            Self.removeAll()
            throw HarnessError(.setupFailed, "cannot build the test network: \(error)")
        }
    }

    /// The namespaces that exist now whose names the harness uses.
    public static func existingNamespaces() -> [String] {
        guard let output = try? Subprocess.check(["ip", "netns", "list"]) else { return [] }
        return output.split(separator: "\n").compactMap { line in
            let name = line.split(separator: " ").first.map(String.init) ?? ""
            return name.hasPrefix(namespacePrefix) ? name : nil
        }
    }

    /// The links in the root namespace that the harness uses (the bridge and host-side veths).
    public static func existingLinks() -> [String] {
        guard let output = try? Subprocess.check(["ip", "-o", "link", "show"]) else { return [] }
        return output.split(separator: "\n").compactMap { line in
            // "12: keelj-v1@if2: <BROADCAST,...": the name is the second field, before any '@'.
            let fields = line.split(separator: " ")
            guard fields.count > 1 else { return nil }
            let name = String(fields[1].dropLast().split(separator: "@").first ?? "")
            return name == bridgeName || name.hasPrefix(vethPrefix) ? name : nil
        }
    }

    /// Removes everything any run of the harness made: kills the processes in its namespaces
    /// (SIGKILL, then reaps what it can), deletes the namespaces (and with them their iptables
    /// rules and veth ends), the host veths and the bridge. Safe to call when nothing exists.
    /// Returns what it removed, for the log.
    @discardableResult
    public static func removeAll() -> [String] {
        var removed: [String] = []
        for namespace in existingNamespaces() {
            let pids = (try? Subprocess.check(["ip", "netns", "pids", namespace]))?
                .split(separator: "\n").compactMap { Int32($0.trimmingCharacters(in: .whitespaces)) } ?? []
            for pid in pids {
                kill(pid, SIGCONT)
                kill(pid, SIGKILL)
                removed.append("process \(pid) in \(namespace)")
            }
            // Our own children are reaped here (waiting up to a second for SIGKILL to land); others'
            // are not ours to wait for (waitpid fails at once for them).
            var unreaped = pids
            for _ in 0..<50 where !unreaped.isEmpty {
                unreaped.removeAll { Subprocess.exitStatusIfExited($0) != nil }
                if !unreaped.isEmpty { usleep(20_000) }
            }
            _ = try? Subprocess.run(["ip", "netns", "del", namespace])
            removed.append("namespace \(namespace)")
        }
        for link in existingLinks() {
            _ = try? Subprocess.run(["ip", "link", "del", link])
            removed.append("link \(link)")
        }
        return removed
    }
}
