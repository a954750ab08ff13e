import Foundation

/// Latency-over-time and throughput-over-time charts as inline SVG, with fault intervals shaded,
/// in the manner of Jepsen's `latency-raw.png` and `rate.png`.
struct SVGPlots {
    static let widthPixels = 1100.0
    static let heightPixels = 300.0
    static let marginLeftPixels = 70.0
    static let marginBottomPixels = 45.0
    static let marginTopPixels = 15.0
    static let marginRightPixels = 20.0
    static let throughputBucketsMax = 60
    static let completionsPerBucketTarget = 8
    static let latencyPointsMax = 6000

    let geometry: ReportGeometry

    private var plotWidth: Double { Self.widthPixels - Self.marginLeftPixels - Self.marginRightPixels }
    private var plotHeight: Double { Self.heightPixels - Self.marginTopPixels - Self.marginBottomPixels }
    private var timeUnit: String { geometry.hasTime ? "time (s)" : "position in history (no :time recorded)" }

    private func x(_ time: Double) -> Double {
        let end = max(geometry.plotEnd, 1e-9)
        return Self.marginLeftPixels + time / end * plotWidth
    }

    /// A scatter of latency (log scale) against invocation time, one colour per outcome.
    func latency() -> String {
        let points = geometry.history.operations.compactMap { operation -> (Double, Double, Outcome, String)? in
            guard let latency = geometry.latency(of: operation) else { return nil }
            return (geometry.plotTime(ofEvent: operation.invokeEvent), max(latency, 0.001), operation.outcome, operation.f)
        }
        // One marker shape per operation type (in order of first appearance), colour by outcome.
        var shapes: [String: Int] = [:]
        for point in points where shapes[point.3] == nil { shapes[point.3] = shapes.count }
        let low = max(points.map(\.1).min() ?? 1, 0.001)
        let high = max(points.map(\.1).max() ?? 10, low * 10)
        let lowLog = (low.log10()).rounded(.down)
        let highLog = (high.log10()).rounded(.up)
        func y(_ value: Double) -> Double {
            Self.marginTopPixels + plotHeight - (value.log10() - lowLog) / (highLog - lowLog) * plotHeight
        }
        var svg = frame(title: "Latency of each operation", yLabel: geometry.hasTime ? "latency (ms, log)" : "latency (events, log)")
        var exponent = lowLog
        while exponent <= highLog {
            let value = Double.pow10(exponent)
            svg += gridLine(y: y(value), label: Self.format(value))
            exponent += 1
        }
        // Past this many dots the plot is ink, not information, and the file grows by megabytes.
        let stride = max(1, points.count / Self.latencyPointsMax)
        for (time, latency, outcome, f) in Swift.stride(from: 0, to: points.count, by: stride).map({ points[$0] }) {
            svg += Self.marker(shape: shapes[f]!, x: x(time), y: y(latency), classes: "pt \(outcome.rawValue)", title: f)
        }
        if shapes.count > 1 {
            var legendX = Self.marginLeftPixels + 10
            for (f, shape) in shapes.sorted(by: { $0.value < $1.value }) {
                svg += Self.marker(shape: shape, x: legendX, y: Self.marginTopPixels + 8, classes: "pt legend", title: f)
                svg += "<text class=\"tick\" x=\"\(Self.f1(legendX + 7))\" y=\"\(Self.f1(Self.marginTopPixels + 12))\">\(HTMLReport.escape(f))</text>"
                legendX += 20 + Double(f.count) * 7
            }
        }
        return svg + "</svg>"
    }

    /// Completions per second (or per bucket of events) over time, one line per outcome.
    func throughput() -> String {
        // About eight completions per bucket on average, so the line shows rate rather than noise.
        let completions = geometry.history.operations.filter { $0.completeEvent != nil }.count
        let buckets = max(1, min(Self.throughputBucketsMax, completions / Self.completionsPerBucketTarget))
        let end = max(geometry.plotEnd, 1e-9)
        let bucketWidth = end / Double(buckets)
        var counts: [Outcome: [Double]] = [.ok: [], .fail: [], .info: []]
        for outcome in [Outcome.ok, .fail, .info] { counts[outcome] = Array(repeating: 0, count: buckets) }
        for operation in geometry.history.operations {
            guard let complete = operation.completeEvent else { continue }
            let bucket = min(buckets - 1, Int(geometry.plotTime(ofEvent: complete) / bucketWidth))
            counts[operation.outcome]![bucket] += 1
        }
        let scale = geometry.hasTime ? 1 / bucketWidth : 1
        let peak = max(1, counts.values.flatMap { $0 }.max()! * scale)
        func y(_ value: Double) -> Double { Self.marginTopPixels + plotHeight - value / peak * plotHeight }
        var svg = frame(title: "Throughput", yLabel: geometry.hasTime ? "completions / s" : "completions per bucket")
        for step in 0...4 {
            let value = peak * Double(step) / 4
            svg += gridLine(y: y(value), label: Self.format(value))
        }
        for outcome in [Outcome.ok, .fail, .info] {
            let path = counts[outcome]!.enumerated().map { index, count in
                "\(index == 0 ? "M" : "L")\(Self.f1(x((Double(index) + 0.5) * bucketWidth))),\(Self.f1(y(count * scale)))"
            }.joined(separator: " ")
            svg += "<path d=\"\(path)\" class=\"line \(outcome.rawValue)\"/>"
        }
        return svg + "</svg>"
    }

    /// A circle, square, diamond or triangle (then round again) centred on (x, y).
    static func marker(shape: Int, x: Double, y: Double, classes: String, title: String) -> String {
        let r = 2.8
        let body: String
        switch shape % 4 {
        case 0: body = "<circle cx=\"\(f1(x))\" cy=\"\(f1(y))\" r=\"2.5\" class=\"\(classes)\">"
        case 1: body = "<rect x=\"\(f1(x - r))\" y=\"\(f1(y - r))\" width=\"\(f1(2 * r))\" height=\"\(f1(2 * r))\" class=\"\(classes)\">"
        case 2: body = "<path d=\"M\(f1(x)),\(f1(y - r - 0.7))L\(f1(x + r + 0.7)),\(f1(y))L\(f1(x)),\(f1(y + r + 0.7))L\(f1(x - r - 0.7)),\(f1(y))Z\" class=\"\(classes)\">"
        default: body = "<path d=\"M\(f1(x)),\(f1(y - r - 0.5))L\(f1(x + r + 0.5)),\(f1(y + r))L\(f1(x - r - 0.5)),\(f1(y + r))Z\" class=\"\(classes)\">"
        }
        let tag = shape % 4 == 0 ? "circle" : shape % 4 == 1 ? "rect" : "path"
        return body + "<title>\(HTMLReport.escape(title))</title></\(tag)>"
    }

    private func frame(title: String, yLabel: String) -> String {
        var svg = "<svg class=\"plot\" viewBox=\"0 0 \(Self.widthPixels) \(Self.heightPixels)\" width=\"\(Self.widthPixels)\" height=\"\(Self.heightPixels)\" role=\"img\" aria-label=\"\(title)\">"
        for interval in geometry.intervals {
            let start = x(geometry.plotTime(ofEvent: interval.startEvent))
            let end = x(geometry.plotTime(ofEvent: interval.endEvent))
            svg += "<rect class=\"nemesis\" x=\"\(Self.f1(start))\" y=\"\(Self.marginTopPixels)\" width=\"\(Self.f1(max(end - start, 2)))\" height=\"\(Self.f1(plotHeight))\"><title>nemesis: \(HTMLReport.escape(interval.label))</title></rect>"
        }
        let bottom = Self.marginTopPixels + plotHeight
        svg += "<line class=\"axis\" x1=\"\(Self.marginLeftPixels)\" y1=\"\(bottom)\" x2=\"\(Self.widthPixels - Self.marginRightPixels)\" y2=\"\(bottom)\"/>"
        svg += "<line class=\"axis\" x1=\"\(Self.marginLeftPixels)\" y1=\"\(Self.marginTopPixels)\" x2=\"\(Self.marginLeftPixels)\" y2=\"\(bottom)\"/>"
        for step in 0...5 {
            let time = geometry.plotEnd * Double(step) / 5
            svg += "<text class=\"tick\" x=\"\(Self.f1(x(time)))\" y=\"\(bottom + 16)\" text-anchor=\"middle\">\(Self.format(time))</text>"
        }
        svg += "<text class=\"axislabel\" x=\"\(Self.marginLeftPixels + plotWidth / 2)\" y=\"\(Self.heightPixels - 6)\" text-anchor=\"middle\">\(timeUnit)</text>"
        svg += "<text class=\"axislabel\" transform=\"translate(14 \(Self.marginTopPixels + plotHeight / 2)) rotate(-90)\" text-anchor=\"middle\">\(yLabel)</text>"
        return svg
    }

    private func gridLine(y: Double, label: String) -> String {
        "<line class=\"grid\" x1=\"\(Self.marginLeftPixels)\" y1=\"\(Self.f1(y))\" x2=\"\(Self.widthPixels - Self.marginRightPixels)\" y2=\"\(Self.f1(y))\"/>"
            + "<text class=\"tick\" x=\"\(Self.marginLeftPixels - 6)\" y=\"\(Self.f1(y + 4))\" text-anchor=\"end\">\(label)</text>"
    }

    static func f1(_ value: Double) -> String {
        String((value * 10).rounded() / 10)
    }

    static func format(_ value: Double) -> String {
        if value >= 100 || value == value.rounded() { return String(Int(value.rounded())) }
        if value >= 1 { return String((value * 10).rounded() / 10) }
        return String((value * 1000).rounded() / 1000)
    }
}

extension Double {
    fileprivate func log10() -> Double { Foundation.log10(self) }
    fileprivate static func pow10(_ exponent: Double) -> Double { Foundation.pow(10, exponent) }
}
