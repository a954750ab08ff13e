/// Reads and writes histories in Jepsen's EDN form.
///
/// Accepted shapes: one vector or list of operation maps (Knossos's files), or one map per line
/// (Jepsen's `history.edn`), with `;` comments anywhere.
public enum EDNHistory {
    /// Parses the events of a history, rejecting malformed input with its line and the reason.
    public static func read(_ text: String) throws(HistoryError) -> [Operation] {
        var reader = EDNReader(text)
        reader.skipWhitespace()
        var operations: [Operation] = []
        if reader.peek == UInt8(ascii: "[") || reader.peek == UInt8(ascii: "(") {
            let close = reader.peek == UInt8(ascii: "[") ? UInt8(ascii: "]") : UInt8(ascii: ")")
            reader.advance()
            while true {
                reader.skipWhitespace()
                guard let byte = reader.peek else { throw reader.error("unexpected end of input, the history is not closed") }
                if byte == close {
                    reader.advance()
                    break
                }
                let line = reader.line
                operations.append(try OperationDecoder.decode(from: &reader, line: line))
            }
            reader.skipWhitespace()
            guard reader.atEnd else { throw reader.error("unexpected text after the history") }
        } else {
            while true {
                reader.skipWhitespace()
                if reader.atEnd { break }
                let line = reader.line
                operations.append(try OperationDecoder.decode(from: &reader, line: line))
            }
        }
        return operations
    }

    /// Writes one operation map per line, in Jepsen's key order, which `read` accepts.
    public static func write(_ operations: [Operation]) -> String {
        var out = ""
        for operation in operations {
            out += "{:process "
            switch operation.process {
            case .client(let number): out += String(number)
            case .nemesis: out += ":nemesis"
            }
            out += ", :type :" + operation.type.rawValue + ", :f :" + operation.f + ", :value "
            EDNWriter.write(operation.value, into: &out)
            if let time = operation.time { out += ", :time \(time)" }
            if let index = operation.index { out += ", :index \(index)" }
            if let error = operation.error {
                out += ", :error "
                EDNWriter.write(error, into: &out)
            }
            out += "}\n"
        }
        return out
    }
}

/// Turns a parsed map into an `Operation`, checking every field; shared by the EDN and JSON readers.
enum OperationDecoder {
    /// Reads the next operation map straight from `reader`.
    static func decode(from reader: inout EDNReader, line: Int) throws(HistoryError) -> Operation {
        guard let entries = try reader.readMapEntries() else {
            let value = try reader.readValue()
            throw HistoryError(code: .badOperation, message: "expected an operation map, found \(value)", line: line)
        }
        return try decode(entries: entries, line: line)
    }

    /// Decodes a parsed value, which must be a map.
    static func decode(_ value: Value, line: Int) throws(HistoryError) -> Operation {
        guard case .map(let fields) = value else {
            throw HistoryError(code: .badOperation, message: "expected an operation map, found \(value)", line: line)
        }
        return try decode(entries: fields.map { (key: $0.key, value: $0.value) }, line: line)
    }

    private struct Fields {
        let entries: [(key: Value, value: Value)]
        subscript(_ key: Value) -> Value? {
            for entry in entries where entry.key == key { return entry.value }
            return nil
        }
    }

    static func decode(entries: [(key: Value, value: Value)], line: Int) throws(HistoryError) -> Operation {
        let fields = Fields(entries: entries)
        func fail(_ message: String) -> HistoryError {
            HistoryError(code: .badOperation, message: message, line: line)
        }
        let process: ProcessID
        switch fields[.keyword("process")] {
        case .int(let number)?: process = .client(number)
        case .keyword("nemesis")?, .string("nemesis")?: process = .nemesis
        case nil: throw fail("missing :process")
        case let other?: throw fail(":process must be an integer or :nemesis, found \(other)")
        }
        guard let typeValue = fields[.keyword("type")] else { throw fail("missing :type") }
        guard let typeName = name(of: typeValue), let type = OperationType(rawValue: typeName) else {
            throw fail(":type must be :invoke, :ok, :fail or :info, found \(typeValue)")
        }
        guard let fValue = fields[.keyword("f")] else { throw fail("missing :f") }
        guard let f = name(of: fValue) else { throw fail(":f must be a keyword, found \(fValue)") }
        var time: Int?
        if let timeValue = fields[.keyword("time")], !timeValue.isNil {
            guard let number = timeValue.intValue else { throw fail(":time must be an integer, found \(timeValue)") }
            time = number
        }
        var index: Int?
        if let indexValue = fields[.keyword("index")], !indexValue.isNil {
            guard let number = indexValue.intValue else { throw fail(":index must be an integer, found \(indexValue)") }
            index = number
        }
        return Operation(
            process: process, type: type, f: f, value: fields[.keyword("value")] ?? .nil,
            time: time, index: index, error: fields[.keyword("error")], line: line)
    }

    private static func name(of value: Value) -> String? {
        switch value {
        case .keyword(let name), .string(let name): return name
        default: return nil
        }
    }
}
