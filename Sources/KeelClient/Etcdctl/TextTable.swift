/// The boxed table etcdctl prints with `-w table`: headers centred, cells right-aligned, one space
/// of margin inside each border.
enum TextTable {
    static func render(header: [String], rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows {
            precondition(row.count == header.count, "a table row has \(row.count) cells for \(header.count) columns")
            for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.count) }
        }
        let border = "+" + widths.map { String(repeating: "-", count: $0 + 2) + "+" }.joined() + "\n"
        func line(_ cells: [String], centred: Bool) -> String {
            var text = "|"
            for (column, cell) in cells.enumerated() {
                let gap = widths[column] - cell.count
                let left = centred ? gap / 2 : gap
                text += " " + String(repeating: " ", count: left) + cell + String(repeating: " ", count: gap - left) + " |"
            }
            return text + "\n"
        }
        var out = border + line(header, centred: true) + border
        for row in rows { out += line(row, centred: false) }
        return out + border
    }
}
