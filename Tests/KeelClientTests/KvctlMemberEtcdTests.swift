import Foundation
import KeelClient
import XCTest

/// kvctl's `member add|remove|update|promote` print what etcdctl 3.4 prints: both run, one after
/// the other, against the same real single-member etcd, each after the same preparation, and
/// their exit status, standard output and standard error must match once the ids of members added
/// for the run (random, so different for each) are masked. etcdctl's client also logs a JSON line
/// per failed attempt on standard error, which kvctl does not.
///
/// One member is enough for everything but voters: etcd lets a lone member add a learner (never
/// in sync, its peer URL is dead), and a second voter would leave it without a quorum, so no voter
/// is added here (the etcdctl golden's [member] section adds one to three members).
final class KvctlMemberEtcdTests: XCTestCase {
    /// Peer URLs on loopback where nothing listens.
    static let urls = (1...4).map { "http://127.0.0.1:\(19100 + $0)" }
    /// Past the next whole second, against rounding and etcd's own clock reading (see nextSecond).
    static let secondMarginMilliseconds = 50

    /// Ids of members the test did not add are kept; any other becomes `<new>`. etcdctl's log
    /// lines are left out, and the pairs of ETCD_INITIAL_CLUSTER sorted (they follow the ids).
    /// etcd lists members by id, and an added member's id is random on every run: its place among
    /// the others is too. The member objects (flat, no nested objects; `members` is the answer's
    /// last field) are compared as a set.
    static func sortedMembers(_ line: String) -> String {
        guard let start = line.range(of: "\"members\":["), let end = line.range(of: "]}", options: .backwards),
            end.lowerBound >= start.upperBound
        else { return line }
        let inner = String(line[start.upperBound..<end.lowerBound])
        guard inner.hasPrefix("{"), inner.hasSuffix("}") else { return line }
        let objects = inner.dropFirst().dropLast().components(separatedBy: "},{").sorted()
        return String(line[..<start.upperBound]) + "{" + objects.joined(separator: "},{") + "}" + String(line[end.lowerBound...])
    }

    static func normalized(_ run: KvctlRun, known: Set<UInt64>) -> KvctlRun {
        func mask(_ text: String) -> String {
            var result = text
            for (pattern, radix) in [(#"(?<=Member) +[0-9a-f]+(?= )"#, 16), (#"(?<="ID":)[0-9]+"#, 10)] {
                let regex = try! NSRegularExpression(pattern: pattern)
                for match in regex.matches(in: result, range: NSRange(result.startIndex..., in: result)).reversed() {
                    let range = Range(match.range, in: result)!
                    let id = UInt64(result[range].trimmingCharacters(in: .whitespaces), radix: radix)
                    if let id, known.contains(id) { continue }
                    result.replaceSubrange(range, with: radix == 16 ? " <new>" : "\"<new>\"")
                }
            }
            let lines = result.split(separator: "\n", omittingEmptySubsequences: false).compactMap { line -> String? in
                if line.hasPrefix("{\"level\":") { return nil }
                if line.hasPrefix("{"), line.contains("\"members\":[") { return sortedMembers(String(line)) }
                guard line.hasPrefix("ETCD_INITIAL_CLUSTER=\"") else { return String(line) }
                let pairs = line.dropFirst("ETCD_INITIAL_CLUSTER=\"".count).dropLast().split(separator: ",").sorted()
                return "ETCD_INITIAL_CLUSTER=\"" + pairs.joined(separator: ",") + "\""
            }
            return lines.joined(separator: "\n")
        }
        return KvctlRun(status: run.status, stdout: mask(run.stdout), stderr: mask(run.stderr))
    }

    /// Waits into the next Unix second. etcd 3.4 derives a new member's id from its peer URLs, the
    /// cluster and the Unix second, so the same URLs added again within the second of a removed
    /// member's add get the removed id, which etcd refuses with "member not found".
    static func nextSecond() async throws {
        let now = Date().timeIntervalSince1970
        try await Task.sleep(for: .milliseconds(Int((now.rounded(.up) - now) * 1000) + secondMarginMilliseconds))
    }

    /// For each command: `prepare` (which returns the arguments, as they may name a member it
    /// added), etcdctl; `prepare` again, kvctl; then compares.
    private func assertSameAsEtcdctl(
        port: Int, known: Set<UInt64>, _ label: String, prepare: () async throws -> [String],
        file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        let kvctl = try KvctlProcess.locate()
        let referenceArguments = try await prepare()
        let reference = try await KvctlWatchLockEtcdTests.run(KvctlWatchLockEtcdTests.etcdctl, referenceArguments, port: port)
        let ourArguments = try await prepare()
        let ours = try await KvctlWatchLockEtcdTests.run(kvctl, ourArguments, port: port)
        XCTAssertEqual(
            Self.normalized(ours, known: known), Self.normalized(reference, known: known),
            "\(label): kvctl \(ourArguments.joined(separator: " "))", file: file, line: line)
    }

    func testMemberCommandsPrintWhatEtcdctlPrints() async throws {
        try await EtcdProcess.with { etcd in
            let configuration = KeelClientConfiguration(endpoints: [etcd.endpoint])
            let before = try await KeelClient.withClient(configuration) { try await $0.memberList() }
            let own = try XCTUnwrap(before.members.first)
            let known: Set<UInt64> = [own.id, before.header.clusterID]
            let ownHex = String(own.id, radix: 16)
            let ownPeer = "http://127.0.0.1:\(etcd.peerPort)"
            /// Removes every member the test added, so each run starts from the lone member.
            let removeLearners = {
                let removed = try await KeelClient.withClient(configuration) { client in
                    var removed = 0
                    for learner in try await client.memberList().members where learner.id != own.id {
                        _ = try await client.memberRemove(id: learner.id)
                        removed += 1
                    }
                    return removed
                }
                if removed > 0 { try await Self.nextSecond() }
            }
            /// The lone member and one learner at urls[0]; its id in hex.
            let withLearner = {
                try await removeLearners()
                // The command before may have removed the learner this replaces (see nextSecond).
                try await Self.nextSecond()
                return try await KeelClient.withClient(configuration) { client in
                    String(try await client.memberAdd(peerURLs: [Self.urls[0]], isLearner: true).member.id, radix: 16)
                }
            }
            let same = { (label: String, prepare: () async throws -> [String]) in
                try await self.assertSameAsEtcdctl(port: etcd.clientPort, known: known, label, prepare: prepare)
            }

            // Without a learner: adds in each format (table fails only after adding, as etcdctl
            // does), argument errors, URLs etcd's client refuses, and refusals of the server.
            let alone: [[String]] = [
                ["member", "add", "learner1", "--peer-urls=\(Self.urls[0])", "--learner"],
                ["member", "add", "learner1", "--peer-urls=\(Self.urls[1]),\(Self.urls[0])", "--learner", "-w", "json"],
                ["member", "add", "learner1", "--peer-urls=\(Self.urls[0])", "--learner", "-w", "table"],
                ["member", "add", "learner1"], ["member", "add"], ["member", "add", "a", "http://127.0.0.1:1", "HTTP://b:2"],
                ["member", "remove", "zz"], ["member", "remove"], ["member", "remove", "1234"],
                ["member", "promote", "1234"], ["member", "promote", "1ffffffffffffffff"], ["member", "promote", ownHex],
                ["member", "update", "1234", "--peer-urls=\(Self.urls[2])"], ["member", "update", "1234"],
                ["member", "update", "zz", "--peer-urls=\(Self.urls[2])"],
                ["member", "update", ownHex, "--peer-urls=\(ownPeer)"], ["member", "update", ownHex, "--peer-urls=\(ownPeer)", "-w", "json"],
            ]
            for arguments in alone {
                try await same("alone") {
                    try await removeLearners()
                    return arguments
                }
            }
            let badURLs = [
                "127.0.0.1:2380", "localhost:2380", "http://h:abc", "http://127.0.0.1", "http://127.0.0.1:1/path", ":80",
                "http://a b:1", "http://a:1:2", "\(Self.urls[0]),,", "ftp://127.0.0.1:1",
            ]
            for url in badURLs {
                try await same("bad URL") {
                    try await removeLearners()
                    return ["member", "add", "x", "--peer-urls=\(url)", "--learner"]
                }
                try await same("bad URL") { ["member", "update", ownHex, "--peer-urls=\(url)"] }
            }

            // With a learner: promotion refused (it never caught up), a second learner refused,
            // its URL taken, a URL taken from the lone member, then removal in each format.
            let withOne: [(String) -> [String]] = [
                { ["member", "promote", $0] }, { ["member", "promote", $0, "-w", "json"] },
                { _ in ["member", "add", "learner2", "--peer-urls=\(Self.urls[1])", "--learner"] },
                { _ in ["member", "add", "other", "--peer-urls=\(Self.urls[0])", "--learner"] },
                { ["member", "update", $0, "--peer-urls=\(ownPeer)"] },
                { ["member", "remove", $0] }, { ["member", "remove", $0, "-w", "json"] }, { ["member", "remove", $0, "-w", "table"] },
            ]
            for arguments in withOne {
                try await same("with a learner") { arguments(try await withLearner()) }
            }

            // Last, since etcd 3.4 then takes the learner for a voter (etcd-io/etcd#21694) and, with
            // one member running of two voters, refuses to remove it or add another: an update.
            // Both tools update the same learner to the same URLs, which etcd answers alike.
            let learner = try await withLearner()
            for arguments in [
                ["member", "update", learner, "--peer-urls=\(Self.urls[2])"],
                ["member", "update", learner, "--peer-urls=\(Self.urls[3]),\(Self.urls[2])", "-w", "json"],
            ] {
                try await same("update") { arguments }
            }
        }
    }
}
