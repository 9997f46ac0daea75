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
