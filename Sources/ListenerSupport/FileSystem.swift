#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call, naming the call, the path and the reason.
package struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The operation (`open`, `write`, `fsync`, …).
    package var operation: String
    /// The file or address involved.
    package var target: String
    /// `errno`.
    package var code: Int32

    /// Captures `errno` for `operation` on `target`.
    package init(_ operation: String, _ target: String, code: Int32 = errno) {
        self.operation = operation
        self.target = target
        self.code = code
    }

    /// `open /path: Permission denied`.
    package var description: String {
        "\(operation) \(target): \(String(cString: strerror(code)))"
    }
}

/// Small file-system helpers over POSIX calls.
package enum FileSystem {
    /// Reads a whole file as UTF-8.
    package static func readText(_ path: String) throws(SystemError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open", path) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw SystemError("read", path)
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `path` resolved against `baseDirectory` (a config file's folder): an absolute path as
    /// it is, a relative one under the folder ("." is the working directory: left as it is).
    package static func resolve(_ path: String, against baseDirectory: String) -> String {
        path.hasPrefix("/") || baseDirectory == "." ? path : "\(baseDirectory)/\(path)"
    }

    /// True when `path` exists.
    package static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// True when `path` is a folder.
    package static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
    }

    /// True when this process may write to `path`.
    package static func isWritable(_ path: String) -> Bool {
        access(path, W_OK) == 0
    }

    /// True when `path` is a file this process may execute.
    package static func isExecutable(_ path: String) -> Bool {
        access(path, X_OK) == 0
    }

    /// The directory part of `path` (`"."` when there is none).
    package static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Creates `path` and its missing parents (like `mkdir -p`); each folder it creates is
    /// made durable in its parent (see `syncDirectory`).
    package static func createDirectories(_ path: String, mode: mode_t = 0o750) throws(SystemError) {
        if path.isEmpty || path == "." || path == "/" || exists(path) { return }
        let parent = directory(of: path)
        try createDirectories(parent, mode: mode)
        if mkdir(path, mode) == 0 {
            try syncDirectory(parent)
        } else if errno != EEXIST {
            throw SystemError("mkdir", path)
        }
    }

    /// The mode of the data files the listener creates (the spool, SQLite databases, JSON
    /// lines), before the umask: they hold contacts' personal data, so other users get
    /// nothing, whatever the umask. The owner's group may read (backups, reports), as it
    /// may read the log: under systemd that group is the service's own, on shared hosting
    /// the account's.
    static let dataFileMode: mode_t = 0o640

    /// Makes sure the data file `path` exists: when it doesn't, creates it empty with
    /// `dataFileMode` and syncs its folder. For files another library opens by name
    /// (SQLite, which would create them 0644 and give its -wal and -shm files the mode of
    /// the database file). One `open` when the file exists.
    package static func createDataFile(_ path: String) throws(SystemError) {
        if let fd = try createExclusively(path, flags: O_WRONLY) { close(fd) }
    }

    /// Opens the data file `path` with `flags` (`O_CLOEXEC` added), creating it first as
    /// `createDataFile` does when it doesn't exist.
    package static func openDataFile(_ path: String, flags: Int32) throws(SystemError) -> Int32 {
        while true {
            if let fd = try createExclusively(path, flags: flags) { return fd }
            let fd = open(path, flags | O_CLOEXEC)
            if fd >= 0 { return fd }
            // Renamed away (log rotation) between the two opens: create it anew.
            guard errno == ENOENT else { throw SystemError("open", path) }
        }
    }

    /// Creates `path` with `O_EXCL` and `dataFileMode`, then syncs its folder; nil when it
    /// already exists. fsync(2): syncing a file "does not necessarily ensure that the entry
    /// in the directory containing the file has also reached disk. For that an explicit
    /// fsync() on a file descriptor for the directory is also needed." Without it, the
    /// lines and rows acknowledged first could vanish with the file's name on power loss.
    /// Only a creation pays for it, never a write.
    private static func createExclusively(_ path: String, flags: Int32) throws(SystemError) -> Int32? {
        let fd = open(path, flags | O_CREAT | O_EXCL | O_CLOEXEC, dataFileMode)
        if fd < 0 {
            if errno == EEXIST { return nil }
            throw SystemError("open", path)
        }
        do {
            try syncDirectory(directory(of: path))
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// fsync(2)s the folder `path`, making the names created in it durable.
    static func syncDirectory(_ path: String) throws(SystemError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open", path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw SystemError("fsync", path) }
    }

    /// Writes all of `bytes` to `fd`, retrying short writes and EINTR.
    package static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, target: String) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw SystemError("write", target)
            }
            offset += written
        }
    }
}
