import Foundation
import KeelClient
import KeelEmbedded
import KeelServer
import Logging
import ServiceLifecycle
import XCTest

/// Three members of one cluster embedded in this test process: they elect a leader over real
/// TCP, a write through one member's client is read through another's, a configuration mistake is
/// named, and a graceful shutdown ends them.
final class EmbeddedMemberTests: XCTestCase {
    var directories: [String] = []

    override func tearDown() {
        for directory in directories { try? FileManager.default.removeItem(atPath: directory) }
        super.tearDown()
    }

    func makeMembers(_ count: Int) throws -> [EmbeddedMember] {
        let clientPorts = try (0..<count).map { _ in try Self.freePort() }
        let peerPorts = try (0..<count).map { _ in try Self.freePort() }
        let cluster = (0..<count).map { (name: "m\($0)", peerAddress: "127.0.0.1:\(peerPorts[$0])") }
        return try (0..<count).map { index in
            let directory = NSTemporaryDirectory() + "keel-embedded-\(UUID().uuidString)"
            directories.append(directory)
            return try EmbeddedMember(
                configuration: .init(
                    name: "m\(index)", dataDirectory: directory, clientAddress: "127.0.0.1:\(clientPorts[index])",
                    peerAddress: cluster[index].peerAddress, initialCluster: cluster,
                    settings: [.heartbeatInterval: "20", .electionTimeout: "200"]),
                logger: Logger(label: "embedded-test"))
        }
    }

    func testThreeEmbeddedMembersReplicateAndAnswerThroughTheSameClientAPI() async throws {
        let members = try makeMembers(3)
        let group = ServiceGroup(services: members, logger: Logger(label: "embedded-test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let revision = try await members[0].withClient { client in
                try await client.put("greeting", "hello").header.revision
            }
            let value = try await members[2].withClient { client in
                try await client.get("greeting")
            }
            XCTAssertEqual(value.kvs.first.map { String(decoding: $0.value, as: UTF8.self) }, "hello")
            XCTAssertGreaterThanOrEqual(value.header.revision, revision)
            // Every member applied it: the nodes agree on the leader and the revision.
            var leaders: Set<UInt64> = []
            for member in members { leaders.insert(await member.node.status().leader.rawValue) }
            XCTAssertEqual(leaders.count, 1)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    func testABadSettingIsNamed() throws {
        let directory = NSTemporaryDirectory() + "keel-embedded-\(UUID().uuidString)"
        directories.append(directory)
        XCTAssertThrowsError(
            try EmbeddedMember(
                configuration: .init(
                    name: "solo", dataDirectory: directory, clientAddress: "127.0.0.1:1", peerAddress: "127.0.0.1:2",
                    initialCluster: [("other", "127.0.0.1:3")]),
                logger: Logger(label: "embedded-test"))
        ) { error in
            XCTAssertTrue("\(error)".contains("solo"), "\(error)")
        }
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw EmbeddedTestError("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw EmbeddedTestError("bind failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw EmbeddedTestError("getsockname failed: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

struct EmbeddedTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
