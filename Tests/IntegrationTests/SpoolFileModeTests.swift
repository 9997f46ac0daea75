import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The files the listener creates in its data folder (the spool, the SQLite database with
/// their -wal and -shm files, the JSON-lines file, the log): never open to other users,
/// whatever the umask and whoever made the folder, and their folder synced once they exist.
@Suite("spool: modes and durability of the files the listener creates")
struct SpoolFileModeTests {
    /// How the listener runs: one CGI process (its SQLite files closed by the time it
    /// exits), or `serve` (files open, so the -wal and -shm files exist while we look).
    enum Mode: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case cgi, serve
        var testDescription: String { rawValue }
        /// The files that must be there when we look.
        var expected: Set<String> {
            let always: Set<String> = ["spool.db", "contacts.db", "events.jsonl", "new", "new/more.jsonl"]
            switch self {
            case .cgi: return always.union(["listener.log"])
            case .serve: return always.union(["spool.db-wal", "spool.db-shm", "contacts.db-wal", "contacts.db-shm"])
            }
        }
    }

    static func config(logFile: Bool) -> String {
        (logFile ? "log_file: data/listener.log\n" : "") + """
            spool:
              path: data/spool.db
              cgi_delivery_budget: 5s
            handlers:
              - type: sqlite
                path: data/contacts.db
              - type: jsonl
                path: data/events.jsonl
              - type: jsonl
                name: more
                path: data/new/more.jsonl

            """
    }

    @Test("under umask 000, in a 0777 data folder, no file or folder the listener creates is open to others", arguments: Mode.allCases)
    func nothingOpenToOthers(mode: Mode) async throws {
        let directory = try TestDirectory("modes-\(mode.rawValue)")
        defer { directory.remove() }
        let data = try directory.folder("data")
        try #require(chmod(data, 0o777) == 0)
        // `serve` waits for "listening" on stderr, which log_file would take away.
        let configPath = try directory.write("listener.yaml", spoolSocketGroupLine + Self.config(logFile: mode == .cgi))
        var listing: [String: mode_t] = [:]
        switch mode {
        case .cgi:
            let answer = try await offload {
                try runCGIRequest(in: directory, configPath: configPath, body: Array(contactForm("tx-modes").utf8), wrapper: Umask.wrapper(0))
            }
            #expect(answer.status == 200, "\(answer)")
            listing = try Self.modes(under: data)
        case .serve:
            let server = try await SpoolServer.start(in: directory, configPath: configPath, wrapper: Umask.wrapper(0))
            defer { server.stop() }
            listing = try Self.modes(under: data)
        }
        #expect(mode.expected.isSubset(of: Set(listing.keys)), "missing: \(mode.expected.subtracting(listing.keys).sorted()); found \(listing.keys.sorted())")
        for (name, bits) in listing.sorted(by: { $0.key < $1.key }) {
            #expect(bits & 0o007 == 0, "\(name) is 0\(String(bits, radix: 8)): open to other users")
        }
        // 0640 for files and 0750 for folders: the owner's group may read (backups), others nothing.
        for name in ["spool.db", "contacts.db", "events.jsonl", "new/more.jsonl"] {
            #expect(listing[name] == 0o640, "\(name): 0\(String(listing[name] ?? 0, radix: 8))")
        }
    }

    /// Mode bits (`& 0o7777`) of everything below `folder`, by path relative to it.
    static func modes(under folder: String) throws -> [String: mode_t] {
        var result: [String: mode_t] = [:]
        guard let walker = FileManager.default.enumerator(atPath: folder) else { throw TestFailure("can't list \(folder)") }
        while let name = walker.nextObject() as? String {
            var status = stat()
            // A -wal or -shm file may go away between the listing and the lstat.
            guard lstat("\(folder)/\(name)", &status) == 0 else { continue }
            result[name] = status.st_mode & 0o7777
        }
        return result
    }

    @Test("each data file the listener creates has its folder synced after it appears (strace)")
    func newFilesHaveTheirFolderSynced() async throws {
        let strace = try tool("strace", package: "strace")
        let directory = try TestDirectory("dirsync")
        defer { directory.remove() }
        let data = try directory.folder("data")
        let configPath = try directory.write("listener.yaml", Self.config(logFile: false))
        let trace = directory.file("strace.txt")
        let answer = try await offload {
            try runCGIRequest(
                in: directory, configPath: configPath, body: Array(contactForm("tx-dirsync").utf8),
                wrapper: [strace, "-f", "-qq", "-s", "4096", "-e", "trace=open,openat,fsync,fdatasync", "-o", trace])
        }
        #expect(answer.status == 200, "\(answer)")
        let calls = SyscallTrace(text: readText(trace))
        for name in ["spool.db", "contacts.db", "events.jsonl", "new/more.jsonl"] {
            let path = "\(data)/\(name)"
            let folder = (path as NSString).deletingLastPathComponent
            let created = try #require(calls.creation(of: path), "no creation of \(path) in the trace")
            #expect(calls.folderSyncs(of: folder).contains { $0 > created }, "\(folder) was not synced after \(name) was created")
        }
    }
}

/// The `open`/`openat`/`fsync` lines of an `strace -f -o FILE` log, in order.
struct SyscallTrace {
    /// (index, path, flags, fd) of each successful open.
    var opens: [(index: Int, path: String, flags: String, fd: Int)] = []
    /// (index, fd) of each successful fsync or fdatasync.
    var syncs: [(index: Int, fd: Int)] = []

    init(text: String) {
        for (index, line) in text.split(separator: "\n").enumerated() {
            // `PID openat(AT_FDCWD, "/path", O_RDONLY|O_CLOEXEC) = 3` (strace pads before the
            // `=`); failed calls and resumed halves are skipped.
            guard let equals = line.range(of: " = ", options: .backwards), let result = Int(line[equals.upperBound...].prefix { $0.isNumber }) else { continue }
            if line.contains("open"), let start = line.firstIndex(of: "\""), let end = line[line.index(after: start)...].firstIndex(of: "\"") {
                let path = String(line[line.index(after: start)..<end])
                let flags = String(line[line.index(after: end)..<equals.lowerBound])
                opens.append((index, path, flags, result))
            } else if line.contains("fsync(") || line.contains("fdatasync("), let open = line.firstIndex(of: "("),
                      let fd = Int(line[line.index(after: open)...].prefix { $0.isNumber }), result == 0 {
                syncs.append((index, fd))
            }
        }
    }

    /// Where `path` was first opened with O_CREAT successfully.
    func creation(of path: String) -> Int? {
        opens.first { $0.path == path && $0.flags.contains("O_CREAT") }?.index
    }

    /// Where `folder` was synced: an fsync of a descriptor opened on it, before it was reused.
    func folderSyncs(of folder: String) -> [Int] {
        syncs.compactMap { sync in
            let opened = opens.last { $0.fd == sync.fd && $0.index < sync.index }
            return opened?.path == folder && opened?.flags.contains("O_DIRECTORY") == true ? sync.index : nil
        }
    }
}
