import ContactListenerKit
import ContactListenerRuntime
import ListenerSupport
import ListenerSupport
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What every serving mode sets up the same way: logging, the configuration, the handlers.
enum Runtime {
    /// Exit status for a bad configuration (sysexits.h `EX_CONFIG`).
    static let configurationExitCode: Int32 = 78

    /// Sends log lines to stderr (the web server's error log in CGI mode) at `level`.
    static func bootstrapLogging(level: String) {
        let parsed = Logger.Level(rawValue: level) ?? .info
        let first = bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        if first {
            LoggingSystem.bootstrap { _ in LineLogHandler(level: parsed) }
        } else {
            var handler = LineLogHandler(level: parsed)
            handler.logLevel = parsed  // the level is process-wide: a reload changes it for all
        }
    }

    /// swift-log may be bootstrapped once per process; a reload only changes the level.
    private static let bootstrapped = Mutex(false)

    /// Loads the configuration and builds the listener, or explains what is wrong.
    static func makeService(
        configPath: String?, environment: [String: String], statusPage: Bool = true,
        adjust: (inout ListenerConfiguration) throws(ConfigurationError) -> Void = { _ in }
    ) throws(ConfigurationError) -> ListenerService {
        var configuration = try ConfigurationLoader.load(explicit: configPath, environment: environment)
        try adjust(&configuration)
        if let logFile = configuration.logFile {
            do { try LineLogHandler.redirectStandardError(to: logFile) } catch {
                throw ConfigurationError(file: configuration.source, line: nil, key: "log_file", reason: "\(error); check the folder exists and is writable")
            }
        }
        bootstrapLogging(level: configuration.logLevel)
        return try ListenerService(configuration: configuration, logger: Logger(label: "contact-listener"), board: statusPage ? .shared : nil)
    }

    /// Prints one line to stderr.
    static func complain(_ message: String) {
        var line = "contact-listener: \(message)\n"
        line.withUTF8 { buffer in
            try? FileSystem.writeAll(2, UnsafeRawBufferPointer(buffer), target: "stderr")
        }
    }
}
