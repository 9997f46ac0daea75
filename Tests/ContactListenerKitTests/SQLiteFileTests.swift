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

    /// An open file: asks its connection in use, then closes it.
    struct Opened {
        let text: (String) throws -> String?
        let close: () throws -> Void
    }

    /// (what, opens the file at a path, PRAGMA synchronous expected: 2 FULL, 1 NORMAL).
    static let files: [(String, @Sendable (String) throws -> Opened, Int)] = [
        ("spool", { try opened(Spool(configuration: SpoolConfiguration(path: $0), handlerNames: ["a"]).database) }, 2),
        ("sqlite handler", { try opened(SQLiteHandler(name: "sqlite", path: $0).database) }, 2),
        ("replay guard", { path in
            let replayGuard = try ReplayGuard(path: path, window: 60_000)
            return Opened(text: replayGuard.textForTests, close: replayGuard.close)
        }, 1),
    ]

    static func opened(_ database: DatabaseQueue) -> Opened {
        Opened(text: { sql in try database.read { db in try String.fetchOne(db, sql: sql) } }, close: database.close)
    }

    @Test("journal_mode WAL and the promised synchronous level on the connection in use", arguments: files)
    func durability(what: String, open: @Sendable (String) throws -> Opened, synchronous: Int) throws {
        let path = try Self.folder("sqlite-file") + "/\(what.replacingOccurrences(of: " ", with: "-")).db"
        let database = try open(path)
        defer { try? database.close() }
        let mode = try database.text("PRAGMA journal_mode")
        let level = try database.text("PRAGMA synchronous").flatMap { Int($0) }
        #expect(mode == "wal", "\(what)")
        #expect(level == synchronous, "\(what): PRAGMA synchronous is \(level ?? -1), expected \(synchronous)")
    }

    @Test("opening an existing file again writes nothing to it", arguments: files)
    func reopeningChangesNothing(what: String, open: @Sendable (String) throws -> Opened, synchronous: Int) throws {
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
    func concurrentFirstOpen(what: String, open: @escaping @Sendable (String) throws -> Opened, synchronous: Int) async throws {
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

extension SQLiteFileTests {
    static let migrations: [(identifier: String, sql: String)] = [
        ("v1", "CREATE TABLE one (a TEXT)"),
        ("v2", "CREATE TABLE two (b TEXT)"),
    ]

    /// GRDB's migrator with the same migrations.
    static func migrator(upTo count: Int) -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in migrations.prefix(count) {
            migrator.registerMigration(migration.identifier) { db in try db.execute(sql: migration.sql) }
        }
        return migrator
    }

    /// (file made by, then opened by): `SQLiteFile.connect` records its migrations where
    /// GRDB's migrator does, so a file made by either (a listener before or after an upgrade)
    /// opens with the other, each migration applied exactly once.
    enum Opener: String, CaseIterable, Sendable { case grdbV1, grdbV2, connectV1, connectV2 }

    static let reopenings: [(Opener, Opener)] = [
        (.grdbV1, .connectV2), (.grdbV2, .connectV2), (.connectV1, .connectV2),
        (.connectV2, .grdbV2), (.connectV1, .grdbV2), (.connectV2, .connectV2),
    ]

    static func open(_ opener: Opener, _ path: String) throws {
        switch opener {
        case .grdbV1: try SQLiteFile.open(path, durability: .normal, migrator: migrator(upTo: 1)).close()
        case .grdbV2: try SQLiteFile.open(path, durability: .normal, migrator: migrator(upTo: 2)).close()
        case .connectV1: try SQLiteFile.connect(path, durability: .normal, migrations: Array(migrations.prefix(1))).close()
        case .connectV2: try SQLiteFile.connect(path, durability: .normal, migrations: migrations).close()
        }
    }

    @Test("migrations recorded as GRDB's migrator records them, in both directions", arguments: reopenings)
    func migrationsShared(first: Opener, then: Opener) throws {
        let path = try Self.folder("sqlite-migrations") + "/file.db"
        try Self.open(first, path)
        try Self.open(then, path)
        let database = try DatabaseQueue(path: path)
        defer { try? database.close() }
        let (applied, tables) = try database.read { db in
            (try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier"),
             try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('one', 'two') ORDER BY name"))
        }
        #expect(applied == ["v1", "v2"], "\(first) then \(then)")
        #expect(tables == ["one", "two"], "\(first) then \(then)")
    }
}

extension SQLiteFileTests {
    /// The dispatcher records outcomes with `synchronous=NORMAL` for that one transaction;
    /// the spool's connection must be FULL again for the next event, whatever the outcome.
    static let outcomes: [(String, Spool.AttemptResult?)] = [
        ("delivered", .delivered),
        ("failed", .failed("boom", permanent: false)),
        ("dead", .failed("boom", permanent: true)),
        ("a transaction that fails", nil),
    ]

    @Test("recording outcomes leaves the spool's connection at synchronous=FULL", arguments: outcomes)
    func outcomesLeaveFull(what: String, result: Spool.AttemptResult?) throws {
        let spool = try Spool(configuration: SpoolConfiguration(path: try Self.folder("spool-full") + "/spool.db"), handlerNames: ["a"])
        defer { spool.close() }
        _ = try spool.store([Spool.Item(dedupKey: nil, transactionID: "t", requestID: "r", json: Array("{}".utf8))])
        let claims = try spool.claim(handler: "a", owner: "o", limit: 10)
        #expect(claims.count == 1)
        if let result {
            let lost = try spool.complete(handler: "a", owner: "o", results: claims.map { ($0.eventID, $0.attempts, result) })
            #expect(lost.isEmpty, "\(what)")
        } else {
            // A transaction that throws: a read-only query makes the UPDATE fail.
            try spool.database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA query_only = ON") }
            #expect(throws: (any Error).self) { try spool.complete(handler: "a", owner: "o", results: claims.map { ($0.eventID, $0.attempts, .delivered) }) }
            try spool.database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA query_only = OFF") }
        }
        let level = try spool.database.read { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        #expect(level == 2, "\(what): PRAGMA synchronous is \(level ?? -1) after complete, expected 2 (FULL)")
    }
}
