import Foundation
import Testing
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ContactListenerSQL
@testable import ContactListenerHTTP
@testable import ListenerSupport
#if canImport(Glibc)
import Glibc
#endif

/// `FileSystem`'s data-file helper: a new file gets `dataFileMode` (never bits for other
/// users), an existing one is left as it is, and a failure names the path.
@Suite("FileSystem: data files")
struct FileSystemTests {
    /// A private folder under the temporary directory, removed by `remove()`.
    struct Folder {
        let path: String
        init() throws {
            path = FileManager.default.temporaryDirectory.appendingPathComponent("cl-fs-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            chmod(path, 0o777)
        }
        func remove() { try? FileManager.default.removeItem(atPath: path) }
    }

    /// This process's umask, from /proc (umask(2) can't read it without changing it, and
    /// tests run in parallel).
    static func currentUmask() throws -> mode_t {
        let status = try FileSystem.readText("/proc/self/status")
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("Umask:") })
        return try #require(mode_t(line.dropFirst("Umask:".count).trimmingCharacters(in: .whitespaces), radix: 8))
    }

    static func mode(_ path: String) -> mode_t {
        var status = stat()
        return stat(path, &status) == 0 ? status.st_mode & 0o7777 : 0
    }

    enum Helper: String, CaseIterable, Sendable {
        case create, open
        /// Runs the helper on `path`; for `open`, appends `bytes` through the descriptor.
        func run(_ path: String, appending bytes: String = "") throws {
            switch self {
            case .create:
                try FileSystem.createDataFile(path)
            case .open:
                let fd = try FileSystem.openDataFile(path, flags: O_WRONLY | O_APPEND)
                defer { close(fd) }
                let data = Array(bytes.utf8)
                let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if written != data.count { throw SystemError("write", path) }
            }
        }
    }

    @Test("a new data file gets the data mode less the umask: nothing for other users", arguments: Helper.allCases)
    func newFile(helper: Helper) throws {
        let folder = try Folder()
        defer { folder.remove() }
        let path = "\(folder.path)/new.db"
        try helper.run(path)
        #expect(FileSystem.exists(path))
        #expect(Self.mode(path) == FileSystem.dataFileMode & ~(try Self.currentUmask()))
        #expect(Self.mode(path) & 0o007 == 0)
        #expect(FileSystem.dataFileMode == 0o640)
    }

    @Test("an existing file keeps its contents and its mode", arguments: Helper.allCases)
    func existingFile(helper: Helper) throws {
        let folder = try Folder()
        defer { folder.remove() }
        let path = "\(folder.path)/old.jsonl"
        try Data("first\n".utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o600)
        try helper.run(path, appending: "second\n")
        #expect(Self.mode(path) == 0o600)
        let expected = helper == .open ? "first\nsecond\n" : "first\n"
        #expect(try FileSystem.readText(path) == expected)
    }

    @Test("a file in a missing folder fails, naming the call and the path", arguments: Helper.allCases)
    func missingFolder(helper: Helper) throws {
        let folder = try Folder()
        defer { folder.remove() }
        let path = "\(folder.path)/absent/x.db"
        #expect(throws: SystemError("open", path, code: ENOENT)) { try helper.run(path) }
    }

    @Test("createDirectories makes the missing folders, each 0750 less the umask")
    func nestedFolders() throws {
        let folder = try Folder()
        defer { folder.remove() }
        let path = "\(folder.path)/a/b/c"
        try FileSystem.createDirectories(path)
        let umask = try Self.currentUmask()
        for made in ["\(folder.path)/a", "\(folder.path)/a/b", path] {
            #expect(FileSystem.isDirectory(made))
            #expect(Self.mode(made) == 0o750 & ~umask, "\(made)")
        }
    }
}
