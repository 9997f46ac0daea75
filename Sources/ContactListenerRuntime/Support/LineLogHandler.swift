import ContactListenerKit
import ListenerSupport
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
package struct LineLogHandler: LogHandler {
    /// Metadata attached to every record.
    package var metadata: Logger.Metadata = [:]
    /// The minimum level written: this handler's own once set, else the setting it follows.
    package var logLevel: Logger.Level {
        get { ownLevel ?? setting.level }
        set { ownLevel = newValue }
    }
    private var ownLevel: Logger.Level?
    private let setting: LogLevelSetting
    private let fd: Int32

    /// The keys written first, in this order; others follow sorted.
    static let leadingKeys = ["method", "status", "bytes", "ms", "transactionid", "request_id", "remote_addr", "duplicate", "error"]

    /// Writes to `fd` (stderr by default) at the level `setting` holds and above.
    package init(following setting: LogLevelSetting, fd: Int32 = 2) {
        self.setting = setting
        self.fd = fd
    }

    /// Sends stderr (and so every log line) to `path`, appending; called at start and on
    /// SIGUSR1, so that log rotation can move the old file away first.
    package static func redirectStandardError(to path: String) throws(SystemError) {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw SystemError("open", path) }
        defer { close(fd) }
        // dup2 swaps the descriptor atomically: a line being written lands in one file or the other.
        guard dup2(fd, 2) >= 0 else { throw SystemError("dup2", path) }
    }

    /// Metadata by key.
    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one line, built as bytes in one buffer: string interpolation, a merged
    /// dictionary and sorting every key would cost more than the rest of the log call.
    package func log(event: LogEvent) {
        let all: Logger.Metadata
        if metadata.isEmpty {
            all = event.metadata ?? [:]
        } else {
            var merged = metadata
            if let extra = event.metadata { merged.merge(extra) { $1 } }
            all = merged
        }
        var line: [UInt8] = []
        line.reserveCapacity(256)
        line.append(contentsOf: Timestamp.now().utf8)
        line.append(UInt8(ascii: " "))
        line.append(contentsOf: event.level.rawValue.utf8)
        line.append(UInt8(ascii: " "))
        Self.appendEscaped(event.message.description, to: &line)
        var written = 0
        for key in Self.leadingKeys {
            guard let value = all[key] else { continue }
            Self.append(key: key, value: value, to: &line)
            written += 1
        }
        if all.count > written {
            for key in all.keys.filter({ !Self.leadingKeys.contains($0) }).sorted() {
                guard let value = all[key] else { continue }
                Self.append(key: key, value: value, to: &line)
            }
        }
        line.append(UInt8(ascii: "\n"))
        line.withUnsafeBytes { buffer in
            _ = write(fd, buffer.baseAddress, buffer.count)
        }
    }

    /// Appends ` key=value`, the value escaped, and quoted when it is empty or holds a
    /// space, `=` or `"` (then `"` and `\\` inside it are backslash-escaped).
    private static func append(key: String, value: Logger.Metadata.Value, to line: inout [UInt8]) {
        let text: String
        switch value {
        case .string(let string): text = string
        case .stringConvertible(let convertible): text = convertible.description
        default: text = "\(value)"
        }
        line.append(UInt8(ascii: " "))
        line.append(contentsOf: key.utf8)
        line.append(UInt8(ascii: "="))
        let start = line.count
        appendEscaped(text, to: &line)
        let escaped = line[start...]
        guard escaped.isEmpty || escaped.contains(where: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "\"") }) else {
            return
        }
        let plain = Array(escaped)
        line.removeSubrange(start...)
        line.append(UInt8(ascii: "\""))
        for byte in plain {
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { line.append(UInt8(ascii: "\\")) }
            line.append(byte)
        }
        line.append(UInt8(ascii: "\""))
    }

    /// Appends `text` with control characters escaped (`\n` becomes `\\n`), so one record
    /// stays one line.
    private static func appendEscaped(_ text: String, to line: inout [UInt8]) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\n"): line.append(UInt8(ascii: "\\")); line.append(UInt8(ascii: "n"))
            case UInt8(ascii: "\r"): line.append(UInt8(ascii: "\\")); line.append(UInt8(ascii: "r"))
            case UInt8(ascii: "\t"): line.append(UInt8(ascii: "\\")); line.append(UInt8(ascii: "t"))
            case 0..<0x20, 0x7F:
                line.append(contentsOf: "\\x".utf8)
                line.append(Hex.digits[Int(byte >> 4)])
                line.append(Hex.digits[Int(byte & 0xF)])
            default: line.append(byte)
            }
        }
    }

}

