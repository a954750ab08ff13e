import Foundation

/// One etcdctl invocation of Fixtures/etcdctl/commands.txt (the format is described there).
struct EtcdctlFixtureCommand {
    var section: String
    var name: String
    /// The arguments as written, placeholders not yet expanded.
    var tokens: [String]

    var usesAllEndpoints: Bool { tokens.contains("{all-endpoints}") }
    var writeOut: String {
        if let i = tokens.firstIndex(where: { $0 == "-w" || $0 == "--write-out" }), i + 1 < tokens.count { return tokens[i + 1] }
        if let token = tokens.first(where: { $0.hasPrefix("--write-out=") }) { return String(token.dropFirst("--write-out=".count)) }
        return "simple"
    }
    var verb: String { tokens.prefix(2).joined(separator: " ") }

    /// The arguments and standard input for a run whose section started at `baseRevision`.
    func expanded(baseRevision: Int64, fixtures: URL) throws -> (arguments: [String], stdin: Data?) {
        var arguments: [String] = []
        var stdin: Data?
        for token in tokens {
            if token == "''" {
                arguments.append("")
            } else if token == "{all-endpoints}" {
                continue  // the runner passes every endpoint
            } else if token.hasPrefix("{rev+"), token.hasSuffix("}"), let offset = Int64(token.dropFirst(5).dropLast()) {
                arguments.append(String(baseRevision + offset))
            } else if token.hasPrefix("<input/") {
                stdin = try Data(contentsOf: fixtures.appendingPathComponent(String(token.dropFirst())))
            } else if token.hasPrefix("<generated:"), let count = Int(token.dropFirst("<generated:".count)) {
                stdin = Data(repeating: UInt8(ascii: "x"), count: count)
            } else {
                arguments.append(token)
            }
        }
        return (arguments, stdin)
    }
}

/// What etcdctl printed against etcd, as cluster/record-etcdctl-golden stored it.
struct EtcdctlGolden {
    var stdout: String
    var stderr: String
    var status: Int32
}

/// Fixtures/etcdctl: the commands, etcd's recorded answers and the addresses they were recorded with.
struct EtcdctlFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/etcdctl")

    var commands: [EtcdctlFixtureCommand]
    /// Recorded address ("127.0.0.1:41011") to its placeholder ("{node1.client}").
    var goldenAddresses: [String: String]

    var sections: [String] {
        var seen: [String] = []
        for command in commands where !seen.contains(command.section) { seen.append(command.section) }
        return seen
    }

    static func load() throws -> EtcdctlFixtures {
        let text = try String(contentsOf: directory.appendingPathComponent("commands.txt"), encoding: .utf8)
        var commands: [EtcdctlFixtureCommand] = []
        var section: String?
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(rawLine)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast())
                continue
            }
            guard let section, let colon = line.range(of: ": ") else {
                throw ClusterTestError("commands.txt line \(number + 1): expected 'name: arguments' inside a [section]: \(line)")
            }
            let tokens = line[colon.upperBound...].split(separator: " ").map(String.init)
            commands.append(EtcdctlFixtureCommand(section: section, name: String(line[..<colon.lowerBound]), tokens: tokens))
        }
        let addressText = try String(contentsOf: directory.appendingPathComponent("golden/addresses.txt"), encoding: .utf8)
        var addresses: [String: String] = [:]
        for line in addressText.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count == 2 else { throw ClusterTestError("golden/addresses.txt: bad line '\(line)'") }
            addresses[String(parts[1])] = String(parts[0])
        }
        return EtcdctlFixtures(commands: commands, goldenAddresses: addresses)
    }

    func golden(_ command: EtcdctlFixtureCommand) throws -> EtcdctlGolden {
        let base = Self.directory.appendingPathComponent("golden/\(command.section)/\(command.name)")
        func read(_ suffix: String) throws -> String {
            try String(contentsOf: base.appendingPathExtension(suffix), encoding: .utf8)
        }
        let statusText = try read("status").trimmingCharacters(in: .whitespacesAndNewlines)
        guard let status = Int32(statusText) else { throw ClusterTestError("\(base.path).status: not a number: \(statusText)") }
        return EtcdctlGolden(stdout: try read("stdout"), stderr: try read("stderr"), status: status)
    }
}
