import Foundation
@preconcurrency import GRDB
import Testing
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ContactListenerSQL
@testable import ContactListenerHTTP

/// The SQLite files the listener keeps run with the durability they promise (a `200` means
/// the spool's commit was synced), and opening one changes nothing in it.
@Suite("SQLite files: WAL, synchronous, opening changes nothing")
struct SQLiteFileTests {
    /// A fresh folder under the temporary directory.
    static func folder(_ tag: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(tag)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// (what, opens the file at a path and returns its connection, PRAGMA synchronous expected:
    /// 2 FULL, 1 NORMAL).
    static let files: [(String, @Sendable (String) throws -> DatabaseQueue, Int)] = [
        ("spool", { try Spool(configuration: SpoolConfiguration(path: $0), handlerNames: ["a"]).database }, 2),
        ("sqlite handler", { try SQLiteHandler(name: "sqlite", path: $0).database }, 2),
        ("replay guard", { try ReplayGuard(path: $0, window: 60_000).databaseForTests }, 1),
    ]

    @Test("journal_mode WAL and the promised synchronous level on the connection in use", arguments: files)
    func durability(what: String, open: @Sendable (String) throws -> DatabaseQueue, synchronous: Int) throws {
        let path = try Self.folder("sqlite-file") + "/\(what.replacingOccurrences(of: " ", with: "-")).db"
        let database = try open(path)
        let (mode, level) = try database.read { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Int.fetchOne(db, sql: "PRAGMA synchronous"))
        }
        #expect(mode == "wal", "\(what)")
        #expect(level == synchronous, "\(what): PRAGMA synchronous is \(level ?? -1), expected \(synchronous)")
    }

    @Test("opening an existing file again writes nothing to it", arguments: files)
    func reopeningChangesNothing(what: String, open: @Sendable (String) throws -> DatabaseQueue, synchronous: Int) throws {
        let path = try Self.folder("sqlite-reopen") + "/file.db"
        try open(path).close()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        for _ in 0..<3 { try open(path).close() }
        let after = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(before == after, "\(what): the file changed by being opened")
    }
}

extension SQLiteFileTests {
    @Test("a new file opened by many connections at once: every one opens it", arguments: files)
    func concurrentFirstOpen(what: String, open: @escaping @Sendable (String) throws -> DatabaseQueue, synchronous: Int) async throws {
        let folder = try Self.folder("sqlite-race")
        // CGI processes started together all find the file missing; separate connections in
        // one process take SQLite's file locks just as separate processes do.
        for round in 0..<20 {
            let path = "\(folder)/file-\(round).db"
            let failures = await withTaskGroup(of: String?.self) { group in
                for _ in 0..<12 {
                    group.addTask {
                        do { try open(path).close(); return nil } catch { return "\(error)" }
                    }
                }
                var failures: [String] = []
                for await failure in group { if let failure { failures.append(failure) } }
                return failures
            }
            #expect(failures.isEmpty, "\(what), round \(round): \(failures.count) of 12 opens failed: \(failures.first ?? "")")
            if !failures.isEmpty { break }
        }
    }
}
