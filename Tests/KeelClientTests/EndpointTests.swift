import KeelClient
import XCTest

final class EndpointTests: XCTestCase {
    func testParsesHostPortURLAndIPv6Forms() throws {
        XCTAssertEqual(try Endpoint(parsing: "127.0.0.1:2379"), Endpoint(host: "127.0.0.1", port: 2379))
        XCTAssertEqual(try Endpoint(parsing: "http://node1.example:12379"), Endpoint(host: "node1.example", port: 12379))
        XCTAssertEqual(try Endpoint(parsing: "http://10.0.0.2:2379/"), Endpoint(host: "10.0.0.2", port: 2379))
        XCTAssertEqual(try Endpoint(parsing: "HTTP://h:1"), Endpoint(host: "h", port: 1))
        XCTAssertEqual(try Endpoint(parsing: "[::1]:2379"), Endpoint(host: "::1", port: 2379))
        XCTAssertEqual(try Endpoint(parsing: " localhost:2379 "), Endpoint(host: "localhost", port: 2379))
    }

    func testHTTPSMeansTLSAndOnlyIt() throws {
        XCTAssertEqual(try Endpoint(parsing: "https://127.0.0.1:2379"), Endpoint(host: "127.0.0.1", port: 2379, usesTLS: true))
        XCTAssertTrue(try Endpoint(parsing: "HTTPS://h:1/").usesTLS)
        XCTAssertFalse(try Endpoint(parsing: "http://h:1").usesTLS)
        XCTAssertFalse(try Endpoint(parsing: "h:1").usesTLS, "a bare endpoint is plaintext unless TLS options say otherwise")
        XCTAssertTrue(Endpoint.hasScheme("https://h:1"))
        XCTAssertFalse(Endpoint.hasScheme("h:1"))
    }

    func testDescriptionIsHostPortWithBracketsForIPv6() throws {
        XCTAssertEqual(try Endpoint(parsing: "http://127.0.0.1:2379").description, "127.0.0.1:2379")
        XCTAssertEqual(try Endpoint(parsing: "[::1]:2379").description, "[::1]:2379")
    }

    func testClassifiesIPLiteralsForTheResolver() throws {
        XCTAssertTrue(try Endpoint(parsing: "127.0.0.1:1").isIPv4)
        XCTAssertFalse(try Endpoint(parsing: "127.0.0.256:1").isIPv4)
        XCTAssertFalse(try Endpoint(parsing: "1.2.3:1").isIPv4)
        XCTAssertFalse(try Endpoint(parsing: "localhost:1").isIPv4)
        XCTAssertTrue(try Endpoint(parsing: "[fe80::1]:1").isIPv6)
    }

    func testRejectsBadEndpointsNamingTheProblem() {
        let cases: [(String, String)] = [
            ("", "empty"),
            ("127.0.0.1", "no port"),
            ("127.0.0.1:", "port ''"),
            ("127.0.0.1:70000", "not a number in 1...65535"),
            ("127.0.0.1:abc", "port 'abc'"),
            ("https://127.0.0.1", "no port"),
            ("unix://sock:1", "unknown scheme 'unix'"),
            ("::1:2379", "brackets"),
            ("[::1:2379", "no ']'"),
            ("[::1]2379", "no port after the IPv6"),
            (":2379", "host is empty"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try Endpoint(parsing: text), text) { error in
                let description = "\(error)"
                XCTAssertTrue(description.contains(expected), "\(text): \(description)")
                XCTAssertTrue(description.contains("\"\(text)\""), "the error names the text: \(description)")
            }
        }
    }

    func testParsesCommaSeparatedListsDroppingEmptiesAndDuplicates() throws {
        XCTAssertEqual(
            try Endpoint.parseList("127.0.0.1:1, http://127.0.0.1:2,,127.0.0.1:1"),
            [Endpoint(host: "127.0.0.1", port: 1), Endpoint(host: "127.0.0.1", port: 2)])
        XCTAssertThrowsError(try Endpoint.parseList(" , ")) { error in
            XCTAssertTrue("\(error)".contains("no endpoint given"), "\(error)")
        }
        XCTAssertThrowsError(try Endpoint.parseList("127.0.0.1:1,bad")) { error in
            XCTAssertTrue("\(error)".contains("\"bad\""), "\(error)")
        }
    }

    func testPrefixEndIncrementsTheLastByteBelow0xff() {
        XCTAssertEqual(KeyRange.prefixEnd(Data("abc".utf8)), Data("abd".utf8))
        XCTAssertEqual(KeyRange.prefixEnd(Data([0x61, 0xff])), Data([0x62]))
        XCTAssertEqual(KeyRange.prefixEnd(Data([0xff, 0xff])), Data([0]))
        XCTAssertEqual(KeyRange.prefixEnd(Data()), Data([0]))
    }
}
