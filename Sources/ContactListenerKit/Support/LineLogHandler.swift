import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A swift-log handler that writes each record as exactly one line to stderr with a single
/// `write(2)` (so lines from threads and processes never interleave), with control
/// characters escaped: values that came from a request can't forge extra log lines.
///
/// `2026-11-29T09:14:52.400Z info request method=POST status=200 bytes=89 ms=0.97 …`
public struct LineLogHandler: LogHandler {
    /// Metadata attached to every record.
    public var metadata: Logger.Metadata = [:]
    /// The minimum level written: process-wide, so a reload (SIGHUP) can change it.
    public var logLevel: Logger.Level {
        get { Logger.Level.allCases[Self.level.load(ordering: .relaxed)] }
        set { Self.level.store(Logger.Level.allCases.firstIndex(of: newValue) ?? 2, ordering: .relaxed) }
    }
    private let fd: Int32
    private static let level = Atomic<Int>(2)

    /// The keys written first, in this order; others follow sorted.
    static let leadingKeys = ["method", "status", "bytes", "ms", "transactionid", "request_id", "remote_addr", "duplicate", "error"]

    /// Writes to `fd` (stderr by default) at `level` and above.
    public init(level: Logger.Level, fd: Int32 = 2) {
        self.fd = fd
        self.logLevel = level
    }

    /// Sends stderr (and so every log line) to `path`, appending; called at start and on
    /// SIGUSR1, so that log rotation can move the old file away first.
    public static func redirectStandardError(to path: String) throws(SystemError) {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw SystemError("open", path) }
        defer { close(fd) }
        // dup2 swaps the descriptor atomically: a line being written lands in one file or the other.
        guard dup2(fd, 2) >= 0 else { throw SystemError("dup2", path) }
    }

    /// Metadata by key.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one line.
    public func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        var line = "\(Timestamp.now()) \(event.level) \(Self.escape(event.message.description))"
        let keys = Self.leadingKeys.filter { all[$0] != nil } + all.keys.filter { !Self.leadingKeys.contains($0) }.sorted()
        for key in keys {
            guard let value = all[key] else { continue }
            let text = Self.escape("\(value)")
            // One pass over the bytes (String.contains goes through Foundation's range(of:)).
            let needsQuotes = text.isEmpty || text.utf8.contains { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "\"") }
            line += " \(key)=" + (needsQuotes ? "\"\(text.replacingQuotes())\"" : text)
        }
        line += "\n"
        line.withUTF8 { buffer in
            _ = write(fd, buffer.baseAddress, buffer.count)
        }
    }

    /// Escapes control characters (`\n` becomes `\\n`), so one record stays one line.
    static func escape(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return text }
        var output = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                output += "\\x" + (scalar.value < 16 ? "0" : "") + String(scalar.value, radix: 16)
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output
    }
}

extension String {
    /// Backslash-escapes double quotes for a quoted log value.
    fileprivate func replacingQuotes() -> String {
        var output = ""
        for character in self {
            if character == "\"" || character == "\\" { output.append("\\") }
            output.append(character)
        }
        return output
    }
}
