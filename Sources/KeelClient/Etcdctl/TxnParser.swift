import Foundation
public import KeelProto

/// A line of txn input that could not be read: which line, its text, and why.
public struct TxnParseError: Error, Equatable, CustomStringConvertible {
    /// etcdctl's words for the kind of mistake: "malformed comparison" or "invalid txn request".
    public var kind: String
    /// 1-based line number in the input.
    public var lineNumber: Int
    /// The line as given (trimmed).
    public var line: String
    /// What is wrong with it.
    public var reason: String

    /// Creates the error.
    public init(kind: String, lineNumber: Int, line: String, reason: String) {
        self.kind = kind
        self.lineNumber = lineNumber
        self.line = line
        self.reason = reason
    }

    /// `<kind>: line N: <line> (<reason>)`: etcdctl's message with the line number and the reason added.
    public var description: String { "\(kind): line \(lineNumber): \(line) (\(reason))" }
}

/// Reads etcdctl's non-interactive txn format:
///
///     compares          one per line: value("k") = "v", mod("k") > "5", version/create/lease(...)
///     <blank line>
///     success requests  one per line: put k v, get k [end] [--prefix ...], del k [end] [--prefix ...]
///     <blank line>
///     failure requests
///     <blank line>
///
/// etcdctl insists on the last blank line; here the end of the input also closes a section, so a file
/// without the trailing blank line works too.
public enum TxnParser {
    /// The most lines one txn input may hold; the server has its own, smaller, limit on operations.
    public static let linesMax = 10_000

    /// Parses the whole input.
    public static func parse(_ input: String) throws(TxnParseError) -> Etcdserverpb_TxnRequest {
        var lines = input.split(separator: "\n", omittingEmptySubsequences: false)
        // The final newline of a file does not start another line.
        if lines.last == "" { lines.removeLast() }
        guard lines.count <= linesMax else {
            throw TxnParseError(
                kind: "invalid txn input", lineNumber: linesMax + 1, line: String(lines[linesMax]),
                reason: "the txn input has more than \(linesMax) lines")
        }
        var request = Etcdserverpb_TxnRequest()
        var section = 0  // 0: compares, 1: success, 2: failure, 3: done
        for (offset, rawLine) in lines.enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            let number = offset + 1
            if line.isEmpty {
                section += 1
                continue
            }
            switch section {
            case 0:
                request.compare.append(try parseCompare(line, lineNumber: number))
            case 1:
                request.success.append(try parseRequest(line, lineNumber: number))
            case 2:
                request.failure.append(try parseRequest(line, lineNumber: number))
            default:
                throw TxnParseError(
                    kind: "invalid txn input", lineNumber: number, line: line,
                    reason: "text after the failure requests; a txn has three sections separated by blank lines")
            }
        }
        return request
    }

    /// Parses one compare line: `TARGET("KEY") OP "VALUE"`.
    public static func parseCompare(_ line: String, lineNumber: Int) throws(TxnParseError) -> Etcdserverpb_Compare {
        func fail(_ reason: String) -> TxnParseError {
            TxnParseError(kind: "malformed comparison", lineNumber: lineNumber, line: line, reason: reason)
        }
        guard let open = line.firstIndex(of: "(") else {
            throw fail("expected TARGET(\"KEY\") OP \"VALUE\", such as value(\"k\") = \"v\"")
        }
        let targetName = line[..<open].trimmingCharacters(in: .whitespaces)
        var compare = Etcdserverpb_Compare()
        switch targetName {
        case "ver", "version": compare.target = .version
        case "c", "create": compare.target = .create
        case "m", "mod": compare.target = .mod
        case "val", "value": compare.target = .value
        case "lease": compare.target = .lease
        default: throw fail("unknown target \"\(targetName)\"; use value, version, create, mod or lease")
        }
        var rest = line[line.index(after: open)...]
        let key: [UInt8]
        do {
            (key, rest) = try GoQuoted.read(rest)
        } catch {
            throw fail("the key: \(error.reason)")
        }
        rest = rest.drop(while: \.isWhitespace)
        guard rest.first == ")" else { throw fail("expected ')' after the key") }
        rest = rest.dropFirst().drop(while: \.isWhitespace)
        let op = rest.prefix(while: { "<=>!".contains($0) })
        rest = rest.dropFirst(op.count).drop(while: \.isWhitespace)
        switch op {
        case "=", "==": compare.result = .equal
        case "!=": compare.result = .notEqual
        case ">": compare.result = .greater
        case "<": compare.result = .less
        case "": throw fail("no comparison operator; use =, !=, > or <")
        default: throw fail("unknown operator \"\(op)\"; use =, !=, > or <")
        }
        let value: [UInt8]
        do {
            (value, rest) = try GoQuoted.read(rest)
        } catch {
            throw fail("the value: \(error.reason)")
        }
        guard rest.allSatisfy(\.isWhitespace) else { throw fail("unexpected text after the value: \(rest)") }
        compare.key = Data(key)
        if compare.target == .value {
            compare.value = Data(value)
            return compare
        }
        guard let text = String(bytes: value, encoding: .utf8), let number = Int64(text) else {
            throw fail("\(targetName) compares with a whole number, got \"\(String(decoding: value, as: UTF8.self))\"")
        }
        switch compare.target {
        case .version: compare.version = number
        case .create: compare.createRevision = number
        case .mod: compare.modRevision = number
        default: compare.lease = number
        }
        return compare
    }

    /// Parses one request line: `put KEY VALUE [--prev-kv] [--lease=ID]`, `get KEY [END] [flags]`,
    /// `del KEY [END] [--prefix] [--from-key] [--prev-kv]`.
    public static func parseRequest(_ line: String, lineNumber: Int) throws(TxnParseError) -> Etcdserverpb_RequestOp {
        func fail(_ reason: String) -> TxnParseError {
            TxnParseError(kind: "invalid txn request", lineNumber: lineNumber, line: line, reason: reason)
        }
        let words: [[UInt8]]
        do {
            words = try GoQuoted.words(Substring(line))
        } catch {
            throw fail(error.reason)
        }
        guard let verb = words.first.map({ String(decoding: $0, as: UTF8.self) }) else { throw fail("empty") }
        var flags = RequestFlags()
        var arguments: [Data] = []
        for word in words.dropFirst() {
            let text = String(decoding: word, as: UTF8.self)
            if text.hasPrefix("--") && text.count > 2 {
                do {
                    try flags.set(String(text.dropFirst(2)), verb: verb)
                } catch {
                    throw fail(error.message)
                }
            } else {
                arguments.append(Data(word))
            }
        }
        var op = Etcdserverpb_RequestOp()
        do {
            switch verb {
            case "put":
                guard arguments.count == 2 else { throw fail("put needs KEY and VALUE, got \(arguments.count) arguments") }
                op.requestPut = EtcdctlRequests.put(
                    key: arguments[0], value: arguments[1], prevKV: flags.prevKV, lease: flags.lease)
            case "get":
                guard (1...2).contains(arguments.count) else {
                    throw fail("get needs KEY and an optional RANGE_END, got \(arguments.count) arguments")
                }
                op.requestRange = try EtcdctlRequests.range(
                    key: arguments[0], rangeEnd: arguments.count == 2 ? arguments[1] : nil, options: flags.get)
            case "del", "delete":
                guard (1...2).contains(arguments.count) else {
                    throw fail("del needs KEY and an optional RANGE_END, got \(arguments.count) arguments")
                }
                op.requestDeleteRange = try EtcdctlRequests.delete(
                    key: arguments[0], rangeEnd: arguments.count == 2 ? arguments[1] : nil,
                    prefix: flags.get.prefix, fromKey: flags.get.fromKey, prevKV: flags.prevKV)
            default:
                throw fail("unknown request \"\(verb)\"; use put, get or del")
            }
        } catch let error as EtcdctlUsageError {
            throw fail(error.message)
        } catch let error as TxnParseError {
            throw error
        } catch {
            throw fail("\(error)")
        }
        return op
    }
}

/// The flags a txn request line may carry.
private struct RequestFlags {
    var get = GetOptions()
    var prevKV = false
    var lease: Int64 = 0

    mutating func set(_ flag: String, verb: String) throws(EtcdctlUsageError) {
        let parts = flag.split(separator: "=", maxSplits: 1).map(String.init)
        let name = parts[0]
        let value = parts.count == 2 ? parts[1] : nil
        func number() throws(EtcdctlUsageError) -> Int64 {
            guard let value, let number = Int64(value) else {
                throw EtcdctlUsageError("--\(name) needs a number, written --\(name)=N")
            }
            return number
        }
        func boolean() throws(EtcdctlUsageError) -> Bool {
            guard let value else { return true }
            guard let flag = Bool(value) else { throw EtcdctlUsageError("--\(name) takes true or false, got \(value)") }
            return flag
        }
        func text() throws(EtcdctlUsageError) -> String {
            guard let value else { throw EtcdctlUsageError("--\(name) needs a value, written --\(name)=VALUE") }
            return value
        }
        switch (verb, name) {
        case ("put", "prev-kv"), ("del", "prev-kv"), ("delete", "prev-kv"): prevKV = try boolean()
        case ("put", "lease"):
            guard let value, let id = Int64(value, radix: 16) else {
                throw EtcdctlUsageError("--lease needs a lease ID in hexadecimal, written --lease=ID")
            }
            lease = id
        case ("get", "prefix"), ("del", "prefix"), ("delete", "prefix"): get.prefix = try boolean()
        case ("get", "from-key"), ("del", "from-key"), ("delete", "from-key"): get.fromKey = try boolean()
        case ("get", "rev"): get.revision = try number()
        case ("get", "limit"): get.limit = try number()
        case ("get", "keys-only"): get.keysOnly = try boolean()
        case ("get", "count-only"): get.countOnly = try boolean()
        case ("get", "consistency"): get.consistency = try text()
        case ("get", "order"): get.sortOrder = try text()
        case ("get", "sort-by"): get.sortBy = try text()
        default: throw EtcdctlUsageError("unknown flag --\(name) for \(verb)")
        }
    }
}
