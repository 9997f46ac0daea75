#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call, naming the call, the path and the reason.
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The operation (`open`, `write`, `fsync`, …).
    public var operation: String
    /// The file or address involved.
    public var target: String
    /// `errno`.
    public var code: Int32

    /// Captures `errno` for `operation` on `target`.
    public init(_ operation: String, _ target: String, code: Int32 = errno) {
        self.operation = operation
        self.target = target
        self.code = code
    }

    /// `open /path: Permission denied`.
    public var description: String {
        "\(operation) \(target): \(String(cString: strerror(code)))"
    }
}

/// Small file-system helpers over POSIX calls.
public enum FileSystem {
    /// Reads a whole file as UTF-8.
    public static func readText(_ path: String) throws(SystemError) -> String {
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

    /// True when `path` exists.
    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// True when `path` is a folder.
    public static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
    }

    /// True when this process may write to `path`.
    public static func isWritable(_ path: String) -> Bool {
        access(path, W_OK) == 0
    }

    /// True when `path` is a file this process may execute.
    public static func isExecutable(_ path: String) -> Bool {
        access(path, X_OK) == 0
    }

    /// The directory part of `path` (`"."` when there is none).
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Creates `path` and its missing parents (like `mkdir -p`).
    public static func createDirectories(_ path: String, mode: mode_t = 0o750) throws(SystemError) {
        if path.isEmpty || path == "." || path == "/" || exists(path) { return }
        try createDirectories(directory(of: path), mode: mode)
        if mkdir(path, mode) != 0 && errno != EEXIST { throw SystemError("mkdir", path) }
    }

    /// Writes all of `bytes` to `fd`, retrying short writes and EINTR.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, target: String) throws(SystemError) {
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
