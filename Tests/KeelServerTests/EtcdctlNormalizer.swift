import Foundation

/// What an etcdctl run printed, with what legitimately differs between two clusters replaced by
/// placeholders, so a run against kvd compares equal to the one recorded against etcd exactly when
/// etcdctl saw the same answers.
///
/// Replaced: member and cluster ids and the leader's id (`<id>`; they hash names, URLs and the
/// time), Raft terms and indexes (`<raft>`; etcd also logs configuration entries), database sizes
/// (`<size>`), the server version (`<version>`), whether an endpoint is the leader (`<leader?>`; it
/// depends on who won the election), durations (`<duration>`), log timestamps and etcdctl's
/// internal client names, and each node's addresses (`{node1.client}`). Revisions become relative to
/// the revision of the section's fresh cluster (`rev+3`), so they must advance exactly as etcd's do
/// (and the fresh clusters must start at the same revision: the test checks that separately).
/// Members are sorted by name and health lines by text, because their order follows the ids or the
/// timing. Lease IDs, which each server draws at random, become `<lease1>`, `<lease2>`… in order of
/// first appearance over the whole section (hex in the simple format, decimal in JSON), so a lease
/// must show up where etcd's did, the same lease each time. A lease's remaining TTL (`timetolive`)
/// counts down in wall-clock time, so it becomes `<remaining>` when it lies within
/// ``EtcdctlNormalizer/remainingWindowSeconds`` below the granted TTL (see there); the granted TTL,
/// the TTL a renewal answers and an expired lease's -1 stay as printed. HashKV hashes, which
/// differ between the two stores' layouts, become `<hash1>`, `<hash2>`… in order of first
/// appearance over the section, so hashes that were equal (members at one revision) must be
/// equal and different ones different. Member ids in `move-leader` and alarm lines become
/// `<id>`. A member that a `member add` of the section added (its id is the server's choice: etcd
/// hashes the peer URLs, the cluster and the time) becomes `<member:NAME>`, NAME being the adding command, wherever its id shows later (the
/// "Member ID removed from cluster ID" lines, member lists, JSON "ID"s), so a command must name
/// the member etcd's named; other member ids stay `<id>`. The `name=url` pairs of `member add`'s
/// ETCD_INITIAL_CLUSTER are sorted, since they follow the member list's order of ids.
/// Everything else — keys,
/// values, counts, versions of keys, booleans, error codes and messages, exit status — must match
/// as printed.
struct EtcdctlNormalized: Equatable, CustomStringConvertible {
    var stdout: String
    var stderr: String
    var status: Int32

    var description: String { "exit \(status)\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)" }
}

struct EtcdctlNormalizer {
    /// Recorded address ("127.0.0.1:41011") to its placeholder ("{node1.client}").
    var addresses: [String: String]
    /// The revision of the section's cluster before its first command.
    var baseRevision: Int64
    /// Lease IDs seen so far in the section, in order of first appearance: `<lease1>` is the first.
    private(set) var leases: [Int64] = []
    /// HashKV hashes seen so far in the section, in order of first appearance.
    private(set) var hashes: [UInt64] = []
    /// Members added by the section's `member add` commands: id to the command's name.
    private(set) var addedMembers: [UInt64: String] = [:]

    init(addresses: [String: String], baseRevision: Int64) {
        self.addresses = addresses
        self.baseRevision = baseRevision
    }

    /// How far below the granted TTL a remaining TTL may be and still compare equal. The section's
    /// timetolive commands run within about ten commands of their lease's grant (etcd answered 58
    /// for a TTL of 60 there, truncating to whole seconds), which takes a second or two, or several
    /// on a loaded machine; a correct server answers between TTL-10 and TTL. A remaining TTL
    /// outside that (0, one in milliseconds, one above the granted TTL) still differs. That it
    /// counts down at all, the lease test checks on its own.
    static let remainingWindowSeconds: Int64 = 10

    static let idKeys: Set<String> = ["cluster_id", "member_id", "ID", "leader", "memberID"]
    static let raftKeys: Set<String> = ["raft_term", "raftTerm", "raftIndex", "raftAppliedIndex"]
    static let sizeKeys: Set<String> = ["dbSize", "dbSizeInUse"]
    static let revisionKeys: Set<String> = ["revision", "create_revision", "mod_revision", "compact_revision"]

    /// Normalizes one command's output. Commands must come in the section's order, since lease
    /// placeholders are numbered across the section.
    mutating func normalize(_ command: EtcdctlFixtureCommand, stdout: String, stderr: String, status: Int32)
        -> EtcdctlNormalized
    {
        if command.verb == "member add", status == 0 {
            rememberAddedMember(command, stdout: stdout)
        }
        var out = replacingAddresses(stdout)
        var err = replacingAddresses(stderr)
        let isLeaseCommand = command.tokens.first == "lease"
        // A lock's or a candidate's key is NAME/<its session's lease in hex>.
        let printsLeaseKeys = command.tokens.first == "lock" || command.tokens.first == "elect"
        switch (command.verb, command.writeOut) {
        case (_, "json"): out = normalizeJSONText(out, leaseCommand: isLeaseCommand)
        case ("lease list", "simple"): out = sortedLeaseList(replacingHexLeases(out))
        case (_, "simple") where isLeaseCommand: out = sortingAttachedKeys(replacingRemaining(replacingHexLeases(out)))
        case (_, "simple") where printsLeaseKeys: out = replacingHexLeases(out)
        case ("member list", "simple"): out = sortedLines(replacingListedMemberIDs(out))
        case ("member list", "table"): out = normalizeTable(out, fields: [:], sortRows: true, memberIDColumn: 0)
        case ("endpoint status", "simple"): out = replacingFields(out, separator: ", ", fields: Self.statusFields)
        case ("endpoint status", "table"): out = normalizeTable(out, fields: Self.statusFields, sortRows: false)
        case ("endpoint hashkv", "simple"): out = replacingHashes(out, pattern: #"(?<=, )[0-9]+$"#)
        case ("endpoint hashkv", "table"): out = replacingHashes(normalizeTable(out, fields: [:], sortRows: false), pattern: #"(?<= \| )[0-9]+$"#)
        default: break
        }
        out = Self.replacingMatches(of: #"transferred from [0-9a-f]+ to [0-9a-f]+"#, in: out) { _ in "transferred from <id> to <id>" }
        out = Self.replacingMatches(of: #"memberID:[0-9]+"#, in: out) { _ in "memberID:<id>" }
        if command.tokens.first == "compaction" { out = replacingCompactedRevision(out) }
        if command.tokens.first == "member" { out = sortingInitialCluster(replacingMemberLines(out)) }
        err = normalizeLogLines(err)
        if command.verb == "endpoint health" {
            out = sortedLines(replacingDurations(out))
            err = sortedLines(replacingDurations(err))
        }
        return EtcdctlNormalized(stdout: out, stderr: err, status: status)
    }

    /// `endpoint status` columns: endpoint, id, version, db size, is leader, is learner, raft term,
    /// raft index, raft applied index, errors.
    static let statusFields = [1: "<id>", 2: "<version>", 3: "<size>", 4: "<leader?>", 6: "<raft>", 7: "<raft>", 8: "<raft>"]

    func relativeRevision(_ revision: Int64) -> String {
        let offset = revision - baseRevision
        return offset >= 0 ? "rev+\(offset)" : "rev\(offset)"
    }

    // MARK: text

    func replacingAddresses(_ text: String) -> String {
        Self.replacingMatches(of: #"127\.0\.0\.1:[0-9]+"#, in: text) { addresses[$0] ?? "{unknown-address \($0)}" }
    }

    func replacingDurations(_ text: String) -> String {
        Self.replacingMatches(of: #"took = [0-9.]+[a-zµ]+"#, in: text) { _ in "took = <duration>" }
    }

    func replacingCompactedRevision(_ text: String) -> String {
        Self.replacingMatches(of: #"compacted revision [0-9]+"#, in: text) { match in
            "compacted revision " + relativeRevision(Int64(match.split(separator: " ").last ?? "") ?? -1)
        }
    }

    static func replacingMatches(of pattern: String, in text: String, with replacement: (String) -> String) -> String {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { preconditionFailure("bad pattern \(pattern)") }
        let source = text as NSString
        var result = ""
        var cursor = 0
        for match in regex.matches(in: text, range: NSRange(location: 0, length: source.length)) {
            result += source.substring(with: NSRange(location: cursor, length: match.range.location - cursor))
            result += replacement(source.substring(with: match.range))
            cursor = match.range.location + match.range.length
        }
        return result + source.substring(from: cursor)
    }

    // MARK: members

    /// Notes the member a successful `member add` added, from its line or its JSON.
    mutating func rememberAddedMember(_ command: EtcdctlFixtureCommand, stdout: String) {
        guard let hex = command.addedMember(stdout: stdout), let id = UInt64(hex, radix: 16) else { return }
        addedMembers[id] = command.name
    }

    /// `<member:NAME>` for a member the section added, `<id>` for any other.
    func memberPlaceholder(_ id: UInt64?) -> String {
        id.flatMap { addedMembers[$0] }.map { "<member:\($0)>" } ?? "<id>"
    }

    /// "Member ID added to cluster ID" (and removed from, updated in, promoted in), ids in `%16x`.
    func replacingMemberLines(_ text: String) -> String {
        let pattern = #"Member +[0-9a-f]+ (added to|removed from|updated in|promoted in) cluster +[0-9a-f]+"#
        return Self.replacingMatches(of: pattern, in: text) { match in
            let words = match.split(separator: " ")
            let verb = words[2...3].joined(separator: " ")
            return "Member \(memberPlaceholder(UInt64(words[1], radix: 16))) \(verb) cluster <id>"
        }
    }

    /// `member list`'s first column, the id in hex.
    func replacingListedMemberIDs(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            guard let comma = line.range(of: ", ") else { return String(line) }
            return memberPlaceholder(UInt64(line[..<comma.lowerBound], radix: 16)) + line[comma.lowerBound...]
        }.joined(separator: "\n")
    }

    /// ETCD_INITIAL_CLUSTER="a=u1,b=u2": the pairs sorted.
    func sortingInitialCluster(_ text: String) -> String {
        Self.replacingMatches(of: #"ETCD_INITIAL_CLUSTER="[^"]*""#, in: text) { match in
            let inside = match.dropFirst("ETCD_INITIAL_CLUSTER=\"".count).dropLast()
            return "ETCD_INITIAL_CLUSTER=\"" + inside.split(separator: ",").sorted().joined(separator: ",") + "\""
        }
    }

    // MARK: hashes

    /// The placeholder of a hash, numbering it if it is new.
    mutating func hashPlaceholder(_ hash: UInt64) -> String {
        if let index = hashes.firstIndex(of: hash) { return "<hash\(index + 1)>" }
        hashes.append(hash)
        return "<hash\(hashes.count)>"
    }

    /// Each line's hash (matched by `pattern`, anchored per line) becomes its placeholder.
    mutating func replacingHashes(_ text: String, pattern: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            Self.replacingMatches(of: pattern, in: String(line)) { match in UInt64(match).map { hashPlaceholder($0) } ?? match }
        }.joined(separator: "\n")
    }

    // MARK: leases

    /// The placeholder of a lease ID, numbering it if it is new.
    mutating func leasePlaceholder(_ id: Int64) -> String {
        if let index = leases.firstIndex(of: id) { return "<lease\(index + 1)>" }
        leases.append(id)
        return "<lease\(leases.count)>"
    }

    /// etcdctl prints lease IDs as 16 hex digits (`%016x`; a negative ID as a minus and 15 digits).
    mutating func replacingHexLeases(_ text: String) -> String {
        Self.replacingMatches(of: #"(?<![0-9a-z-])(-[0-9a-f]{15}|[0-9a-f]{16})(?![0-9a-z])"#, in: text) { match in
            let id = match.hasPrefix("-") ? Int64(match.dropFirst(), radix: 16).map { -$0 } : Int64(match, radix: 16)
            return id.map { leasePlaceholder($0) } ?? match
        }
    }

    /// "granted with TTL(60s), remaining(59s)": a remaining TTL within the window becomes `<remaining>`.
    func replacingRemaining(_ text: String) -> String {
        Self.replacingMatches(of: #"granted with TTL\([0-9]+s\), remaining\(-?[0-9]+s\)"#, in: text) { match in
            let numbers = match.split(whereSeparator: { !$0.isNumber && $0 != "-" }).compactMap { Int64($0) }
            guard numbers.count == 2, Self.isRemainingWithinWindow(numbers[1], granted: numbers[0]) else { return match }
            return "granted with TTL(\(numbers[0])s), remaining(<remaining>)"
        }
    }

    /// `lease list` prints the leases in the order of the server's own table: "found N leases" first,
    /// then the placeholders sorted.
    func sortedLeaseList(_ text: String) -> String {
        var lines = text.split(separator: "\n").map(String.init)
        guard !lines.isEmpty else { return text }
        let count = lines.removeFirst()
        return ([count] + lines.sorted()).joined(separator: "\n")
    }

    /// "attached keys([lk2 lk1])": etcd lists a lease's keys in the order of its own set, which
    /// varies from run to run, so they are sorted.
    func sortingAttachedKeys(_ text: String) -> String {
        Self.replacingMatches(of: #"attached keys\(\[[^\]]*\]\)"#, in: text) { match in
            let inside = match.dropFirst("attached keys([".count).dropLast("])".count)
            return "attached keys([" + inside.split(separator: " ").sorted().joined(separator: " ") + "])"
        }
    }

    static func isRemainingWithinWindow(_ remaining: Int64, granted: Int64) -> Bool {
        granted > 0 && remaining <= granted && remaining >= granted - remainingWindowSeconds
    }

    func sortedLines(_ text: String) -> String {
        text.split(separator: "\n").map(String.init).sorted().joined(separator: "\n")
    }

    func replacingFields(_ text: String, separator: String, fields: [Int: String]) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            guard !line.isEmpty else { return String(line) }
            var cells = line.components(separatedBy: separator)
            for (index, placeholder) in fields where index < cells.count { cells[index] = placeholder }
            return cells.joined(separator: separator)
        }.joined(separator: "\n")
    }

    /// Tables pad their columns to the widest cell, which depends on the ids: borders collapse to
    /// one dash per column and cells are trimmed. The first row is the column names. A
    /// `memberIDColumn` holds member ids in hex (see ``memberPlaceholder(_:)``).
    func normalizeTable(_ text: String, fields: [Int: String], sortRows: Bool, memberIDColumn: Int? = nil) -> String {
        var header: [String] = []
        var rows: [String] = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("+") {
                header.append(line.replacingOccurrences(of: #"-+"#, with: "-", options: .regularExpression))
                continue
            }
            var cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if header.count == 1 {
                header.append(cells.joined(separator: " | "))
                continue
            }
            for (index, placeholder) in fields where index < cells.count { cells[index] = placeholder }
            if let column = memberIDColumn, column < cells.count { cells[column] = memberPlaceholder(UInt64(cells[column], radix: 16)) }
            rows.append(cells.joined(separator: " | "))
        }
        if sortRows { rows.sort() }
        return (header + rows).joined(separator: "\n")
    }

    /// etcdctl's client logs one JSON line per failed attempt; its time and internal client name vary.
    func normalizeLogLines(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            guard line.hasPrefix("{"), let data = line.data(using: .utf8),
                var object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
            else { return String(line) }
            if object["ts"] != nil { object["ts"] = "<ts>" }
            if object["target"] != nil { object["target"] = "<target>" }
            return Self.serialize(object) ?? String(line)
        }.joined(separator: "\n")
    }

    // MARK: JSON

    /// Parses and re-serializes with sorted keys, replacing ids, terms, sizes and revisions. A field
    /// one side leaves out (Go's JSON omits zeros) stays out, so it must be out on both.
    /// In a lease command's output, "ID" and "id" are lease IDs (elsewhere "ID" is a member's); a
    /// key's "lease" is one everywhere. A timetolive's "ttl" is its remaining TTL.
    mutating func normalizeJSONText(_ text: String, leaseCommand: Bool = false) -> String {
        guard let data = text.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) else {
            return text
        }
        return Self.serialize(normalizeJSON(object, key: nil, leaseCommand: leaseCommand)) ?? text
    }

    mutating func normalizeJSON(_ value: Any, key: String?, leaseCommand: Bool = false) -> Any {
        if let dictionary = value as? [String: Any] {
            var result: [String: Any] = [:]
            // In key order, so that lease placeholders are numbered the same way on every run.
            for childKey in dictionary.keys.sorted() {
                result[childKey] = normalizeJSON(dictionary[childKey] as Any, key: childKey, leaseCommand: leaseCommand)
            }
            if leaseCommand, let remaining = (dictionary["ttl"] as? NSNumber)?.int64Value,
                let granted = (dictionary["granted-ttl"] as? NSNumber)?.int64Value,
                Self.isRemainingWithinWindow(remaining, granted: granted)
            {
                result["ttl"] = "<remaining>"
            }
            return result
        }
        if let array = value as? [Any] {
            let items = array.map { normalizeJSON($0, key: nil, leaseCommand: leaseCommand) }
            if key == "keys" && leaseCommand {
                // A lease's attached keys, in the order of the server's own set (see sortingAttachedKeys).
                return items.sorted { "\($0)" < "\($1)" }
            }
            if key == "leases" {
                // `lease list`: in the server's own order, like the simple format's lines.
                return items.sorted { "\(($0 as? [String: Any])?["id"] ?? "")" < "\(($1 as? [String: Any])?["id"] ?? "")" }
            }
            guard key == "members" else { return items }
            // By name; members not started yet have none, so then by everything else.
            func sortKey(_ item: Any) -> (String, String) {
                ((item as? [String: Any])?["name"] as? String ?? "", Self.serialize(item) ?? "")
            }
            return items.sorted { sortKey($0) < sortKey($1) }
        }
        guard let key else { return value }
        if value is String {
            return key == "version" ? "<version>" : value
        }
        guard let number = value as? NSNumber else { return value }
        if key == "lease" || (leaseCommand && (key == "ID" || key == "id")) { return leasePlaceholder(number.int64Value) }
        if key == "hash" { return hashPlaceholder(number.uint64Value) }
        if key == "ID" { return memberPlaceholder(number.uint64Value) }
        if Self.idKeys.contains(key) { return "<id>" }
        if Self.raftKeys.contains(key) { return "<raft>" }
        if Self.sizeKeys.contains(key) { return "<size>" }
        if Self.revisionKeys.contains(key) { return relativeRevision(number.int64Value) }
        return value
    }

    static func serialize(_ object: Any) -> String? {
        guard JSONSerialization.isValidJSONObject(object),
            let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
            let text = String(data: data, encoding: .utf8)
        else { return nil }
        return text
    }
}
