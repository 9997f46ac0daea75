import ContactListenerKit
import ListenerSupport
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
package final class JSONLinesHandler: ContactHandler {
    /// The handler's configured name.
    package let name: String
    /// The file appended to.
    package let path: String
    private let file: AppendFile
    /// With `fsync: true`: batches concurrent appends into one `write` and one `fdatasync`.
    private let groupCommit: GroupCommit<[UInt8], Void>?

    /// Opens (creating if needed, with its directories) `path` for appending.
    package init(name: String, path: String, fsync: Bool) throws(SystemError) {
        self.name = name
        self.path = path
        try FileSystem.createDirectories(FileSystem.directory(of: path))
        // Read too: the byte before our first line. A new file gets the data files' mode and a synced folder.
        let descriptor = try FileSystem.openDataFile(path, flags: O_RDWR | O_APPEND)
        let file = AppendFile(fd: descriptor, path: path)
        self.file = file
        guard fsync else {
            groupCommit = nil
            return
        }
        groupCommit = GroupCommit { batch in
            var lines: [UInt8] = []
            lines.reserveCapacity(batch.reduce(0) { $0 + $1.count })
            for part in batch { lines.append(contentsOf: part) }
            do throws(SystemError) {
                try file.write(lines)
                if fdatasync(descriptor) != 0 { throw SystemError("fdatasync", path) }
                return batch.map { _ in .success(()) }
            } catch {
                return batch.map { _ in .failure(error) }
            }
        }
    }

    /// The line is `delivery.json` as it is: stored events need no decoding.
    package var needsEvent: Bool { false }

    /// Appends the event's line and, when configured, waits until it is on disk.
    package func handle(_ delivery: Delivery) throws {
        guard !delivery.inDoubt else {
            if let failure = handle(batch: [delivery]).first, case .failure(let error) = failure { throw error }
            return
        }
        var line = delivery.json
        line.append(UInt8(ascii: "\n"))
        try append(line)
    }

    /// Appends the batch's lines in one `write` and syncs once. A delivery in doubt (a crash
    /// may have cut its earlier attempt short) is skipped when its line is already in the
    /// file's tail, so a redelivery adds no duplicate line; one whose spool lease is lost
    /// (`checkLease`) is left to the process that took it over.
    package func handle(batch: [Delivery]) -> [Result<Void, any Error>] {
        let leases = batch.map { delivery in Result { try delivery.checkLease() } }
        let handed = batch.indices.filter { if case .success = leases[$0] { true } else { false } }
        var lines: [UInt8] = []
        lines.reserveCapacity(batch.reduce(2) { $0 + $1.json.count + 1 })
        let doubtful = Set(handed.filter { batch[$0].inDoubt }.map { batch[$0].event.metadata.requestID })
        let present = doubtful.isEmpty ? [] : storedRequestIDs(among: doubtful)
        for index in handed where !(batch[index].inDoubt && present.contains(batch[index].event.metadata.requestID)) {
            lines.append(contentsOf: batch[index].json)
            lines.append(UInt8(ascii: "\n"))
        }
        do {
            try append(lines)
            return leases
        } catch {
            return leases.map { lease in lease.flatMap { .failure(error) } }
        }
    }

    /// Appends `lines` (whole lines), and with `fsync: true` returns once they are on disk.
    private func append(_ lines: [UInt8]) throws {
        if lines.isEmpty { return }
        if let groupCommit {
            try groupCommit.submit(lines).get()
        } else {
            try file.write(lines)
        }
    }

    /// Which of `wanted` already have a complete, valid line in the last few MiB of the
    /// file: enough to cover the deliveries a crash or failure can leave in doubt, which
    /// are always among the most recent appends. A partial line (cut by a short write)
    /// doesn't count, so its event is written again.
    private func storedRequestIDs(among wanted: Set<String>, tailBytes: Int = 16 << 20) -> Set<String> {
        var status = stat()
        guard fstat(file.fd, &status) == 0 else { return [] }
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
        var lineStart = 0
        // Only whole lines: skip the first if the window cut it, and any without a newline.
        if start > 0, let first = bytes[0..<count].firstIndex(of: UInt8(ascii: "\n")) { lineStart = first + 1 }
        while lineStart < count, let lineEnd = bytes[lineStart..<count].firstIndex(of: UInt8(ascii: "\n")) {
            defer { lineStart = lineEnd + 1 }
            let line = bytes[lineStart..<lineEnd]
            let hit = bytes.withUnsafeBufferPointer { buffer in
                ByteSearch.firstIndex(of: marker, in: UnsafeBufferPointer(rebasing: buffer[..<lineEnd]), from: lineStart)
            }
            guard let hit else { continue }
            let valueStart = hit + marker.count
            guard let valueEnd = bytes[valueStart..<lineEnd].firstIndex(of: UInt8(ascii: "\"")) else { continue }
            let requestID = String(decoding: bytes[valueStart..<valueEnd], as: UTF8.self)
            guard wanted.contains(requestID) else { continue }
            // Read as the spool reads its events back: a line may nest deeper than a request may.
            if (try? ContactEvent(storedJSON: Array(line))) != nil { found.insert(requestID) }
        }
        return found
    }

    /// Closes the file.
    package func close() {
        Glibc.close(file.fd)
    }

    /// `type: jsonl`.
    package enum Factory: ContactHandlerFactory {
        package static let type = "jsonl"
        package static let summary = "append each event as one JSON line to a file (fsync before the 200)"
        package static let options: [(name: String, help: String)] = [
            ("path", "the file to append to; relative paths resolve against the config file's folder (required)"),
            ("fsync", "sync each event to disk before answering (default true; false trades durability for speed)"),
        ]

        package static func make(_ configuration: HandlerConfiguration) throws(ConfigurationError) -> any ContactHandler {
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

/// The file a `JSONLinesHandler` appends to, and what it knows of the file's last line.
private final class AppendFile: Sendable {
    let fd: Int32
    let path: String
    private struct Tail {
        /// True after our own short write: the file ends mid-line, so the next write starts
        /// with a newline. Cleared once a write fully succeeded.
        var broken = false
        /// True once a write of ours has checked the byte before it (see `write`).
        var checked = false
    }
    /// Checked and updated under its lock together with the write itself, so threads don't
    /// interleave between the two.
    private let tail = Mutex(Tail())

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    /// One `write` of `lines` (whole lines); throws, acknowledging nothing, if it falls short.
    ///
    /// The first write also checks that the file did not end mid-line before it (an earlier
    /// process's short write, on a full disk or killed mid-write): it reads the byte just
    /// before its own first byte, which a finished write put there (`O_APPEND` writes are
    /// serialized). When that byte is not a newline, our first line was glued to the
    /// fragment, making one line of invalid JSON that readers skip, and it is written once
    /// more on a line of its own (the lines after it are whole already). Checking at open
    /// instead (the file's last byte) raced with another process's write in flight, whose
    /// size the kernel shows before its last bytes, and added a stray empty line (CI's
    /// concurrent CGI test).
    func write(_ lines: [UInt8]) throws(SystemError) {
        let failure: SystemError? = tail.withLock { tail in
            let prefixed = tail.broken
            var bytes = lines
            if prefixed { bytes.insert(UInt8(ascii: "\n"), at: 0) }
            if let failure = writeWhole(bytes, tail: &tail) { return failure }
            guard !tail.checked else { return nil }
            tail.checked = true
            let end = lseek(fd, 0, SEEK_CUR)
            let start = end - off_t(bytes.count)
            var before: UInt8 = UInt8(ascii: "\n")
            guard !prefixed, start > 0, pread(fd, &before, 1, start - 1) == 1, before != UInt8(ascii: "\n"),
                  let firstEnd = lines.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
            return writeWhole(Array(lines[...firstEnd]), tail: &tail)
        }
        if let failure { throw failure }
    }

    /// One `write(2)` of `bytes`; on a short one the file is left ending mid-line.
    private func writeWhole(_ bytes: [UInt8], tail: inout Tail) -> SystemError? {
        let (written, code) = bytes.withUnsafeBytes { buffer in
            let count = Glibc.write(fd, buffer.baseAddress, buffer.count)
            return (count, errno)
        }
        if written == bytes.count {
            tail.broken = false
            return nil
        }
        // A short append (disk full) must not be acknowledged; the partial line is
        // incomplete JSON that readers skip.
        if written > 0 { tail.broken = true }
        return SystemError("write", path, code: written < 0 ? code : ENOSPC)
    }
}
