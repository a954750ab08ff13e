/// The latency and throughput plots of a history, with nemesis intervals shaded, for pages other
/// than the linearizability report (the `jepsen test` run report).
public enum RunPlots {
    /// Latency of each answered operation at its invocation time (log scale): colour by outcome,
    /// marker shape by operation type.
    public static func latency(_ history: History) -> String {
        SVGPlots(geometry: ReportGeometry(history: history)).latency()
    }

    /// Completions per second over time, one line per outcome.
    public static func throughput(_ history: History) -> String {
        SVGPlots(geometry: ReportGeometry(history: history)).throughput()
    }

    /// The style sheet the plots (and the linearizability report) use.
    public static var css: String { HTMLReportAssets.css }

    /// Escapes text for HTML.
    public static func escape(_ text: String) -> String { HTMLReport.escape(text) }
}
