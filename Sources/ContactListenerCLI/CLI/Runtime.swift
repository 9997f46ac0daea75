import ContactListenerKit
import ContactListenerRuntime
import ListenerSupport
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What every serving mode sets up the same way: logging, the configuration, the handlers.
enum Runtime {

    /// The process's log level: the configuration sets it, every logger follows it.
    static let logLevel = LogLevelSetting()

    /// Sends log lines to stderr (the web server's error log in CGI mode) at `level`. swift-log
    /// may be bootstrapped once per process; a reload only moves the level.
    static func bootstrapLogging(level: Logger.Level) {
        logLevel.level = level
        let first = bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        if first {
            LoggingSystem.bootstrap { _ in LineLogHandler(following: logLevel) }
        }
    }

    private static let bootstrapped = Mutex(false)

    /// Loads the configuration and builds the listener, or explains what is wrong.
    static func makeService(
        configPath: String?, environment: [String: String], board: StatusBoard? = nil,
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
        return try ListenerService(
            configuration: configuration, registry: ContactListener.registry, logger: Logger(label: "contact-listener"), board: board)
    }

    /// Prints one line to stderr.
    static func complain(_ message: String) {
        write("contact-listener: \(message)\n", to: 2)
    }

    /// Writes `text` to file descriptor `fd` as it is (a prompt, a line).
    static func write(_ text: String, to fd: Int32) {
        var text = text
        text.withUTF8 { buffer in
            try? FileSystem.writeAll(fd, UnsafeRawBufferPointer(buffer), target: fd == 2 ? "stderr" : "stdout")
        }
    }
}
