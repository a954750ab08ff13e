import KeelClient
import XCTest

final class TxnParserTests: XCTestCase {
    func testParsesTheThreeSections() throws {
        let input = """
            value("k") = "v"
            mod("k") > "5"
            version("a b") != "0"
            create("c") < "9"
            lease("l") = "7"

            put k "new value"
            get k --prefix --limit=2
            del k2 --prev-kv

            put k other
            get a z

            """
        let request = try TxnParser.parse(input)

        XCTAssertEqual(request.compare.count, 5)
        XCTAssertEqual(request.compare[0].target, .value)
        XCTAssertEqual(request.compare[0].result, .equal)
        XCTAssertEqual(request.compare[0].key, Data("k".utf8))
        XCTAssertEqual(request.compare[0].value, Data("v".utf8))
        XCTAssertEqual(request.compare[1].target, .mod)
        XCTAssertEqual(request.compare[1].result, .greater)
        XCTAssertEqual(request.compare[1].modRevision, 5)
        XCTAssertEqual(request.compare[2].target, .version)
        XCTAssertEqual(request.compare[2].result, .notEqual)
        XCTAssertEqual(request.compare[2].key, Data("a b".utf8))
        XCTAssertEqual(request.compare[2].version, 0)
        XCTAssertEqual(request.compare[2].targetUnion, .version(0), "version 0 must still be set in the union")
        XCTAssertEqual(request.compare[3].createRevision, 9)
        XCTAssertEqual(request.compare[3].result, .less)
        XCTAssertEqual(request.compare[4].lease, 7)

        XCTAssertEqual(request.success.count, 3)
        XCTAssertEqual(request.success[0].requestPut.key, Data("k".utf8))
        XCTAssertEqual(request.success[0].requestPut.value, Data("new value".utf8))
        XCTAssertEqual(request.success[1].requestRange.key, Data("k".utf8))
        XCTAssertEqual(request.success[1].requestRange.rangeEnd, Data("l".utf8))
        XCTAssertEqual(request.success[1].requestRange.limit, 2)
        XCTAssertEqual(request.success[2].requestDeleteRange.key, Data("k2".utf8))
        XCTAssertTrue(request.success[2].requestDeleteRange.prevKv)

        XCTAssertEqual(request.failure.count, 2)
        XCTAssertEqual(request.failure[0].requestPut.value, Data("other".utf8))
        XCTAssertEqual(request.failure[1].requestRange.key, Data("a".utf8))
        XCTAssertEqual(request.failure[1].requestRange.rangeEnd, Data("z".utf8))
    }

    func testEmptySectionsAndAMissingFinalBlankLine() throws {
        let onlyOps = try TxnParser.parse("\nput a 1\n")
        XCTAssertTrue(onlyOps.compare.isEmpty)
        XCTAssertEqual(onlyOps.success.count, 1)
        XCTAssertTrue(onlyOps.failure.isEmpty)

        let failureOnly = try TxnParser.parse("value(\"a\") = \"1\"\n\n\nget a\n")
        XCTAssertEqual(failureOnly.compare.count, 1)
        XCTAssertTrue(failureOnly.success.isEmpty)
        XCTAssertEqual(failureOnly.failure.count, 1)
    }

    func testGoEscapesInQuotedKeysAndValues() throws {
        let request = try TxnParser.parse(#"value("a\x00\n\"b") = `raw\n`"# + "\n\nput 'q k' \"v\\tw\"\n\n")
        XCTAssertEqual(request.compare[0].key, Data([0x61, 0x00, 0x0a, 0x22, 0x62]))
        XCTAssertEqual(request.compare[0].value, Data(#"raw\n"#.utf8))
        XCTAssertEqual(request.success[0].requestPut.key, Data("q k".utf8))
        XCTAssertEqual(request.success[0].requestPut.value, Data("v\tw".utf8))
    }

    func testReadOnlyTransactionsAreRecognised() throws {
        XCTAssertTrue(try TxnParser.parse("\nget a\n\nget b\n\n").isReadOnly)
        XCTAssertFalse(try TxnParser.parse("\nget a\n\ndel b\n\n").isReadOnly)
    }

    func testMalformedInputNamesTheLineAndTheProblem() {
        let cases: [(input: String, line: Int, kind: String, reason: String)] = [
            ("valu(\"a\") = \"1\"\n\n\n", 1, "malformed comparison", "unknown target \"valu\""),
            ("value(\"a\") ~ \"1\"\n\n\n", 1, "malformed comparison", "no comparison operator"),
            ("value(\"a\") => \"1\"\n\n\n", 1, "malformed comparison", "unknown operator \"=>\""),
            ("value(\"a) = \"1\"\n\n\n", 1, "malformed comparison", "expected ')' after the key"),
            ("value(\"a\" = \"1\"\n\n\n", 1, "malformed comparison", "expected ')'"),
            ("value(a) = \"1\"\n\n\n", 1, "malformed comparison", "the key: expected a quoted string"),
            ("value(\"a\") = 1\n\n\n", 1, "malformed comparison", "the value: expected a quoted string"),
            ("value(\"a\") = \"1\" x\n\n\n", 1, "malformed comparison", "unexpected text after the value"),
            ("value(\"a\") = \"1\"\nmod(\"b\") > \"x\"\n\n\n", 2, "malformed comparison", "whole number"),
            ("value(\"a\") = \"\\q\"\n\n\n", 1, "malformed comparison", "unknown escape"),
            ("value = \"1\"\n\n\n", 1, "malformed comparison", "expected TARGET"),
            ("\nfoo a\n\n\n", 2, "invalid txn request", "unknown request \"foo\""),
            ("\nput a\n\n\n", 2, "invalid txn request", "put needs KEY and VALUE"),
            ("\nget\n\n\n", 2, "invalid txn request", "get needs KEY"),
            ("\nget a b c\n\n\n", 2, "invalid txn request", "get needs KEY"),
            ("\nget a --bogus\n\n\n", 2, "invalid txn request", "unknown flag --bogus"),
            ("\nget a --limit=x\n\n\n", 2, "invalid txn request", "--limit needs a number"),
            ("\nget a b --prefix\n\n\n", 2, "invalid txn request", "only accept one argument"),
            ("\nput a \"unclosed\n\n\n", 2, "invalid txn request", "not closed"),
            ("\n\ndel a\n\nget b\n", 5, "invalid txn input", "text after the failure requests"),
        ]
        for testCase in cases {
            XCTAssertThrowsError(try TxnParser.parse(testCase.input), testCase.input) { error in
                guard let error = error as? TxnParseError else {
                    return XCTFail("\(testCase.input): not a TxnParseError: \(error)")
                }
                XCTAssertEqual(error.lineNumber, testCase.line, testCase.input)
                XCTAssertEqual(error.kind, testCase.kind, testCase.input)
                XCTAssertTrue(error.reason.contains(testCase.reason), "\(testCase.input): \(error.reason)")
                let badLine = testCase.input.split(separator: "\n", omittingEmptySubsequences: false)[testCase.line - 1]
                XCTAssertEqual(error.line, String(badLine))
                XCTAssertTrue(error.description.contains("line \(testCase.line): \(badLine)"), error.description)
            }
        }
    }

    func testRejectsInputLongerThanTheLineLimit() {
        let input = String(repeating: "value(\"a\") = \"1\"\n", count: TxnParser.linesMax + 1)
        XCTAssertThrowsError(try TxnParser.parse(input)) { error in
            XCTAssertEqual((error as? TxnParseError)?.lineNumber, TxnParser.linesMax + 1)
        }
    }
}
