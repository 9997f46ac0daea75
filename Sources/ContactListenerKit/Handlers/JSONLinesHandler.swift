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
        if let failure = handle(batch: [delivery]).first, case .failure(let error) = failure { throw error }
    }

    /// Appends the batch's lines in one `write` and syncs once. A delivery in doubt (a crash
    /// may have cut its earlier attempt short) is skipped when its line is already in the
    /// file's tail, so a redelivery adds no duplicate line.
    public func handle(batch: [Delivery]) -> [Result<Void, any Error>] {
        var lines: [UInt8] = []
        lines.reserveCapacity(batch.reduce(2) { $0 + $1.json.count + 1 })
        if brokenLine.exchange(false, ordering: .relaxed) { lines.append(UInt8(ascii: "\n")) }
        let present = batch.contains(where: \.inDoubt) ? recentRequestIDs() : []
        for delivery in batch where !(delivery.inDoubt && present.contains(delivery.event.metadata.requestID)) {
            lines.append(contentsOf: delivery.json)
            lines.append(UInt8(ascii: "\n"))
        }
        do {
            try append(lines)
            return batch.map { _ in .success(()) }
        } catch {
            return batch.map { _ in .failure(error) }
        }
    }

    private func append(_ lines: [UInt8]) throws(SystemError) {
        if lines.isEmpty { return }
        let (written, code) = lines.withUnsafeBytes { bytes in
            let count = write(fd, bytes.baseAddress, bytes.count)
            return (count, errno)
        }
        // A short append (disk full) must not be acknowledged; the partial line is
        // incomplete JSON that readers skip, and the next line starts on a line of its own.
        if written != lines.count {
            if written > 0 { brokenLine.store(true, ordering: .relaxed) }
            throw SystemError("write", path, code: written < 0 ? code : ENOSPC)
        }
        if let groupCommit {
            try groupCommit.waitDurable(groupCommit.didWrite())
        }
    }

    /// The `request_id`s in the last few MiB of the file: enough to cover the deliveries a
    /// crash can leave in doubt, which are always among the most recent appends.
    private func recentRequestIDs(tailBytes: Int = 16 << 20) -> Set<String> {
        var status = stat()
        guard fstat(fd, &status) == 0 else { return [] }
        let size = Int(status.st_size)
        let start = max(0, size - tailBytes)
        let reader = open(path, O_RDONLY | O_CLOEXEC)
        guard reader >= 0 else { return [] }
        defer { Glibc.close(reader) }
        var bytes = [UInt8](repeating: 0, count: size - start)
        let count = bytes.withUnsafeMutableBytes { pread(reader, $0.baseAddress, $0.count, off_t(start)) }
        guard count > 0 else { return [] }
        let marker = Array(#""request_id":""#.utf8)
        var found: Set<String> = []
        var position = 0
        while let hit = Self.find(marker, in: bytes, from: position, end: count) {
            let valueStart = hit + marker.count
            var valueEnd = valueStart
            while valueEnd < count, bytes[valueEnd] != UInt8(ascii: "\"") { valueEnd += 1 }
            found.insert(String(decoding: bytes[valueStart..<valueEnd], as: UTF8.self))
            position = valueEnd
        }
        return found
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int, end: Int) -> Int? {
        guard let first = needle.first else { return nil }
        var position = start
        while position + needle.count <= end {
            if haystack[position] == first, haystack[position..<position + needle.count].elementsEqual(needle) {
                return position
            }
            position += 1
        }
        return nil
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
            if try configuration.checkWritable(path: path, at: pathNode) { return DryRunHandler(name: configuration.name) }
            do {
                return try JSONLinesHandler(name: configuration.name, path: path, fsync: fsync)
            } catch {
                throw pathNode.error("\(error); create the folder or fix its permissions")
            }
        }
    }
}
