import Logging
import Synchronization

/// The log level a process's configuration asks for. Every `LineLogHandler` made by the
/// logging bootstrap follows it unless its own `logLevel` was set, so a reload (SIGHUP)
/// that changes `log_level` reaches every logger, while setting one logger's level affects
/// that logger only, as swift-log's `LogHandler` contract requires.
package final class LogLevelSetting: Sendable {
    private let index: Atomic<Int>

    /// Starts at `level`.
    package init(_ level: Logger.Level = .info) {
        index = Atomic(Logger.Level.allCases.firstIndex(of: level) ?? 2)
    }

    /// The level now.
    package var level: Logger.Level {
        get { Logger.Level.allCases[index.load(ordering: .relaxed)] }
        set { index.store(Logger.Level.allCases.firstIndex(of: newValue) ?? 2, ordering: .relaxed) }
    }
}
