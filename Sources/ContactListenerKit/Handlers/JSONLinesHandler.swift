#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Appends each event as one JSON line to a file.
///
/// Each line goes out in a single `write` on an `O_APPEND` descriptor, which the kernel
/// applies atomically for regular files, so threads and concurrent CGI processes never
/// interleave lines. With `fsync: true` (the default) the event is synced (group commit)
/// before `handle` returns.
public final class JSONLinesHandler: ContactHandler {
    /// The handler's configured name.
    public let name: String
    /// The file appended to.
    public let path: String
    private let fd: Int32
    private let groupCommit: GroupCommit?
    /// Set after a short write, so the next line starts on a line of its own.
    private let brokenLine = Atomic<Bool>(false)

    /// Opens (creating if needed, with its directories) `path` for appending.
    public init(name: String, path: String, fsync: Bool) throws(SystemError) {
        self.name = name
        self.path = path
        try FileSystem.createDirectories(FileSystem.directory(of: path))
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else { throw SystemError("open", path) }
        fd = descriptor
        groupCommit = fsync ? GroupCommit { () throws(SystemError) in
            if fdatasync(descriptor) != 0 { throw SystemError("fdatasync", path) }
        } : nil
    }

    /// Appends the event's line and, when configured, waits until it is on disk.
    public func handle(_ delivery: Delivery) throws {
        var line: [UInt8] = []
        line.reserveCapacity(delivery.json.count + 2)
        if brokenLine.exchange(false, ordering: .relaxed) { line.append(UInt8(ascii: "\n")) }
        line.append(contentsOf: delivery.json)
        line.append(UInt8(ascii: "\n"))
        let (written, code) = line.withUnsafeBytes { bytes in
            let count = write(fd, bytes.baseAddress, bytes.count)
            return (count, errno)
        }
        // A short append (disk full) must not be acknowledged; the partial line is
        // incomplete JSON that readers skip, and the next line starts on a line of its own.
        if written != line.count {
            if written > 0 { brokenLine.store(true, ordering: .relaxed) }
            throw SystemError("write", path, code: written < 0 ? code : ENOSPC)
        }
        if let groupCommit {
            try groupCommit.waitDurable(groupCommit.didWrite())
        }
    }

    /// Closes the file.
    public func close() {
        Glibc.close(fd)
    }

    /// `type: jsonl`.
    public enum Factory: ContactHandlerFactory {
        public static let type = "jsonl"
        public static let summary = "append each event as one JSON line to a file (fsync before the 200)"
        public static let options: [(name: String, help: String)] = [
            ("path", "the file to append to; relative paths resolve against the config file's folder (required)"),
            ("fsync", "sync each event to disk before answering (default true; false trades durability for speed)"),
        ]

        public static func make(_ configuration: HandlerConfiguration) throws(ConfigurationError) -> any ContactHandler {
            try checkKeys(configuration)
            let options = configuration.options
            guard let pathNode = options["path"] else { throw options.error("a jsonl handler needs 'path'") }
            let path = configuration.resolve(path: try pathNode.string())
            let fsync = try options["fsync"]?.bool() ?? true
            do {
                return try JSONLinesHandler(name: configuration.name, path: path, fsync: fsync)
            } catch {
                throw pathNode.error("\(error); create the folder or fix its permissions")
            }
        }
    }
}
