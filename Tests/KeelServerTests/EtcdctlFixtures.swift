import Foundation

/// One etcdctl invocation of Fixtures/etcdctl/commands.txt (the format is described there).
struct EtcdctlFixtureCommand {
    var section: String
    var name: String
    /// The arguments as written, placeholders not yet expanded.
    var tokens: [String]

    var usesAllEndpoints: Bool { tokens.contains("{all-endpoints}") }
    /// `{stop-after:2s}`: how long a long-running command (watch, lock, elect) runs before it is stopped; the
    /// recorder and the test send SIGINT then. Whole seconds ("2s") only.
    var stopAfterSeconds: Double? {
        guard let token = tokens.first(where: { $0.hasPrefix("{stop-after:") && $0.hasSuffix("s}") }) else { return nil }
        return Double(token.dropFirst("{stop-after:".count).dropLast(2))
    }
    /// `{not-before:6s}`: the command runs no sooner than this long after the section's cluster
    /// first answered (etcd refuses membership changes until its members have been connected for
    /// 5 s). Whole seconds only.
    var notBeforeSeconds: Double? {
        guard let token = tokens.first(where: { $0.hasPrefix("{not-before:") && $0.hasSuffix("s}") }) else { return nil }
        return Double(token.dropFirst("{not-before:".count).dropLast(2))
    }
    var writeOut: String {
        if let i = tokens.firstIndex(where: { $0 == "-w" || $0 == "--write-out" }), i + 1 < tokens.count { return tokens[i + 1] }
        if let token = tokens.first(where: { $0.hasPrefix("--write-out=") }) { return String(token.dropFirst("--write-out=".count)) }
        return "simple"
    }
    var verb: String { tokens.prefix(2).joined(separator: " ") }

    /// The arguments and standard input for a run whose section started at `baseRevision`, where
    /// `leases` holds the hex ID each earlier `lease grant` of the section printed, and `members`
    /// the hex id of the member each earlier `member add` added, by command name.
    func expanded(
        baseRevision: Int64, leases: [String: String] = [:], members: [String: String] = [:], fixtures: URL,
        memberID: (_ leader: Bool) throws -> String = { _ in throw ClusterTestError("no cluster to ask for member ids") }
    ) throws -> (arguments: [String], stdin: Data?) {
        var arguments: [String] = []
        var stdin: Data?
        for rawToken in tokens {
            let token = try Self.expanding("member", in: try Self.expandingLeases(rawToken, leases: leases), members)
            if token == "''" {
                arguments.append("")
            } else if token == "{all-endpoints}" {
                continue  // the runner passes every endpoint
            } else if token == "{leader-id}" || token == "{follower-id}" {
                arguments.append(try memberID(token == "{leader-id}"))
            } else if token.hasPrefix("{stop-after:") {
                continue  // the runner stops the command (stopAfterSeconds)
            } else if token.hasPrefix("{not-before:") {
                continue  // the runner waits (notBeforeSeconds)
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

    /// Replaces each `{lease:NAME}` in a token (`--lease={lease:grant-a}`) with the lease that
    /// command NAME granted.
    static func expandingLeases(_ token: String, leases: [String: String]) throws -> String {
        try expanding("lease", in: token, leases)
    }

    /// Replaces each `{KIND:NAME}` in a token with `ids[NAME]`, what command NAME granted or added.
    static func expanding(_ kind: String, in token: String, _ ids: [String: String]) throws -> String {
        var result = token
        while let open = result.range(of: "{\(kind):"), let close = result[open.upperBound...].firstIndex(of: "}") {
            let name = String(result[open.upperBound..<close])
            guard let id = ids[name] else {
                throw ClusterTestError("'\(token)' names the \(kind) of \(name), but no earlier command of the section called \(name) made one")
            }
            result.replaceSubrange(open.lowerBound...close, with: id)
        }
        return result
    }

    /// The member a `member add` added, in hex as etcdctl takes it: from "Member ID added to cluster
    /// …" (the id right-aligned in 16 columns) or from the JSON's "member" "ID" (decimal). Nil for
    /// any other command or a failed add.
    func addedMember(stdout: String) -> String? {
        guard verb == "member add" else { return nil }
        if writeOut == "json" {
            guard let object = try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any],
                let member = object["member"] as? [String: Any], let id = (member["ID"] as? NSNumber)?.uint64Value, id != 0
            else { return nil }
            return String(id, radix: 16)
        }
        let words = stdout.prefix(while: { $0 != "\n" }).split(separator: " ")
        guard words.count >= 3, words[0] == "Member", words[2] == "added", words[1].allSatisfy(\.isHexDigit),
            UInt64(words[1], radix: 16) != nil
        else { return nil }
        return String(words[1])
    }

    /// The lease a `lease grant` printed, in hex as etcdctl takes it: from "lease ID granted with
    /// TTL(…)" or from the JSON's "ID" (decimal). Nil for any other command or a failed grant.
    func grantedLease(stdout: String) -> String? {
        guard verb == "lease grant" else { return nil }
        if writeOut == "json" {
            guard let object = try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any],
                let id = (object["ID"] as? NSNumber)?.int64Value, id != 0
            else { return nil }
            return String(format: "%016llx", id)
        }
        let words = stdout.split(separator: " ")
        guard words.count >= 3, words[0] == "lease", words[2] == "granted", words[1].count == 16,
            words[1].allSatisfy(\.isHexDigit)
        else { return nil }
        return String(words[1])
    }
}

/// What etcdctl printed against etcd, as cluster/record-etcdctl-golden stored it.
struct EtcdctlGolden {
    var stdout: String
    var stderr: String
    var status: Int32
}

/// Fixtures/etcdctl: the commands, etcd's recorded answers and how they were recorded.
struct EtcdctlFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/etcdctl")

    var commands: [EtcdctlFixtureCommand]
    /// Recorded address ("127.0.0.1:41011") to its placeholder ("{node1.client}").
    var goldenAddresses: [String: String]
    /// Each section's revision on etcd's fresh cluster.
    var goldenBaseRevisions: [String: Int64]
    /// Section to command name to etcd's answer.
    var goldens: [String: [String: EtcdctlGolden]]

    var sections: [String] {
        var seen: [String] = []
        for command in commands where !seen.contains(command.section) { seen.append(command.section) }
        return seen
    }

    static func load() throws -> EtcdctlFixtures {
        let commands = try parseCommands(try String(contentsOf: directory.appendingPathComponent("commands.txt"), encoding: .utf8))
        let recording = try String(contentsOf: directory.appendingPathComponent("golden/recording.txt"), encoding: .utf8)
        var addresses: [String: String] = [:]
        var bases: [String: Int64] = [:]
        for line in recording.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ").map(String.init)
            switch (parts.first, parts.count) {
            case ("address", 3): addresses[parts[2]] = parts[1]
            case ("base-revision", 3):
                guard let revision = Int64(parts[2]) else { throw ClusterTestError("golden/recording.txt: bad revision in '\(line)'") }
                bases[parts[1]] = revision
            default: throw ClusterTestError("golden/recording.txt: cannot read '\(line)'")
            }
        }
        var goldens: [String: [String: EtcdctlGolden]] = [:]
        for section in Set(commands.map(\.section)) {
            let url = directory.appendingPathComponent("golden/\(section).txt")
            goldens[section] = try parseGolden(try Data(contentsOf: url), file: url.lastPathComponent)
        }
        return EtcdctlFixtures(commands: commands, goldenAddresses: addresses, goldenBaseRevisions: bases, goldens: goldens)
    }

    static func parseCommands(_ text: String) throws -> [EtcdctlFixtureCommand] {
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
        return commands
    }

    /// Reads `=== NAME exit STATUS`, `--- stdout BYTES`, the bytes, a newline, `--- stderr BYTES`, the
    /// bytes, a newline; repeated. Byte counts keep the outputs exact, trailing newlines included.
    static func parseGolden(_ data: Data, file: String) throws -> [String: EtcdctlGolden] {
        let bytes = [UInt8](data)
        var cursor = 0
        func line() throws -> String {
            guard let end = bytes[cursor...].firstIndex(of: UInt8(ascii: "\n")) else {
                throw ClusterTestError("\(file): truncated at byte \(cursor)")
            }
            defer { cursor = end + 1 }
            return String(decoding: bytes[cursor..<end], as: UTF8.self)
        }
        func block(_ label: String) throws -> String {
            let header = try line()
            let prefix = "--- \(label) "
            guard header.hasPrefix(prefix), let count = Int(header.dropFirst(prefix.count)), cursor + count < bytes.count else {
                throw ClusterTestError("\(file): expected '\(prefix)BYTES' at byte \(cursor), found '\(header)'")
            }
            defer { cursor += count + 1 }
            return String(decoding: bytes[cursor..<(cursor + count)], as: UTF8.self)
        }
        var result: [String: EtcdctlGolden] = [:]
        while cursor < bytes.count {
            let header = try line().split(separator: " ").map(String.init)
            guard header.count == 4, header[0] == "===", header[2] == "exit", let status = Int32(header[3]) else {
                throw ClusterTestError("\(file): expected '=== NAME exit STATUS', found '\(header.joined(separator: " "))'")
            }
            let stdout = try block("stdout")
            let stderr = try block("stderr")
            result[header[1]] = EtcdctlGolden(stdout: stdout, stderr: stderr, status: status)
        }
        return result
    }

    func golden(_ command: EtcdctlFixtureCommand) throws -> EtcdctlGolden {
        guard let golden = goldens[command.section]?[command.name] else {
            throw ClusterTestError("golden/\(command.section).txt has no answer for \(command.name)")
        }
        return golden
    }
}
