import Logging

/// kvd's logging: swift-log's stream handler on standard error at the configured level.
public enum LogSetup {
    /// Bootstraps swift-log for the process; call once, before the first logger is made.
    public static func bootstrap(level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
