import ContactListenerKit
import ListenerSupport
#if canImport(Glibc)
import Glibc
#endif
@preconcurrency import GRDB
import GRDBSQLite

/// Opens the SQLite files the listener keeps (the spool, the SQLite handler's database,
/// the replay guard): WAL mode with the durability each asks for, a busy timeout so that
/// several processes (CGI mode) can share a file, and the migrations applied.
///
/// The journal mode is set here, not through GRDB's `Configuration.journalMode = .wal`:
/// GRDB applies that after every `prepareDatabase` step and sets `synchronous = NORMAL`
/// on the way, so a `synchronous = FULL` asked for there was silently lost, and commits
/// were not synced before the answer. GRDB also creates and drops a table to give a
/// missing WAL file content, changing the database on every open (even for a request
/// that is then refused). Neither matters for one `DatabaseQueue` connection, which
/// needs no WAL file before its first write (sqlite.org/wal.html).
///
/// This is the one file that calls SQLite's C API, for the statements every open runs:
/// GRDB's generic fetches instantiate type metadata on first use, a scan of the whole
/// binary's conformance records each, which a CGI process pays on every request
/// (BENCHMARKS.md: 6.9 M of a CGI request's 11.9 M instructions were opening the replay
/// guard's file).
package enum SQLiteFile {
    /// How commits reach the disk (sqlite.org/pragma.html#pragma_synchronous).
    package enum Durability: String {
        /// Every commit is synced: it survives a power loss (the spool, the SQLite handler).
        case full = "FULL"
        /// Synced at checkpoints only: a commit survives a killed process, not a power loss.
        case normal = "NORMAL"
    }

    /// Opens (creating) `path` and applies `migrator`. Processes that find the file new at
    /// the same moment (CGI requests arriving together) race twice, and the loser of either
    /// race tries again until `busyTimeout` has passed:
    /// - `PRAGMA journal_mode = WAL` needs the file to itself, and SQLite answers
    ///   SQLITE_BUSY at once, without its busy handler, while another connection holds it;
    /// - GRDB's migrator checks for applied migrations outside its write lock, so the loser
    ///   fails on CREATE TABLE and, trying again, finds the winner's migration.
    package static func open(_ path: String, durability: Durability, busyTimeout: Double = 10, migrator: DatabaseMigrator) throws -> DatabaseQueue {
        try FileSystem.createDirectories(FileSystem.directory(of: path))
        // Created here, not by SQLite: its mode keeps other users out (the -wal and -shm
        // files take it too), and its folder is synced before the first event is acknowledged.
        try FileSystem.createDataFile(path)
        var options = Configuration()
        options.busyMode = .timeout(busyTimeout)
        options.prepareDatabase { db in
            // Asked first, without changing anything: once the file is in WAL mode (every
            // open but the first), no exclusive access is needed.
            if try text(db, "PRAGMA journal_mode") != "wal" {
                // Setting it answers with the mode in force, which must be WAL.
                let mode = try text(db, "PRAGMA journal_mode = WAL")
                guard mode == "wal" else { throw DatabaseError(message: "can't use WAL mode for \(path) (got \(mode ?? "nothing"))") }
            }
            try db.execute(sql: "PRAGMA synchronous = \(durability.rawValue)")
        }
        let deadline = Timestamp.monotonicNanoseconds() + UInt64(busyTimeout * 1e9)
        var attempt = 0
        while true {
            var database: DatabaseQueue? = nil
            do {
                let opened = try DatabaseQueue(path: path, configuration: options)
                database = opened
                // Every migration applied already (every open but the first): no migrator,
                // whose checks cost more than the rest of the open.
                let applied = try opened.inDatabase { db in try text(db, "SELECT COUNT(*) FROM grdb_migrations", missingTableIsNil: true) }
                if Int(applied ?? "") != migrator.migrations.count {
                    try migrator.migrate(opened)
                }
                return opened
            } catch {
                try? database?.close()
                attempt += 1
                let busy = (error as? DatabaseError).map { $0.resultCode == .SQLITE_BUSY || $0.resultCode == .SQLITE_LOCKED } ?? false
                // A lost race ends within a few tries; anything else fails the same way each time.
                guard busy ? Timestamp.monotonicNanoseconds() < deadline : attempt < 5 else { throw error }
                usleep(useconds_t(min(10_000 * attempt, 100_000)))
            }
        }
    }

    /// The first column of the first row `sql` answers, as text (nil for no row; with
    /// `missingTableIsNil`, also when the statement names a table that does not exist).
    static func text(_ db: Database, _ sql: String, missingTableIsNil: Bool = false) throws -> String? {
        guard let connection = db.sqliteConnection else { return nil }
        var statement: OpaquePointer? = nil
        let prepared = sqlite3_prepare_v2(connection, sql, -1, &statement, nil)
        defer { sqlite3_finalize(statement) }
        guard prepared == SQLITE_OK else {
            let message = String(cString: sqlite3_errmsg(connection))
            if missingTableIsNil && message.hasPrefix("no such table") { return nil }
            throw DatabaseError(resultCode: ResultCode(rawValue: prepared), message: message, sql: sql)
        }
        switch sqlite3_step(statement) {
        case SQLITE_ROW:
            return sqlite3_column_text(statement, 0).map { String(cString: $0) }
        case SQLITE_DONE:
            return nil
        case let code:
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(connection)), sql: sql)
        }
    }
}
