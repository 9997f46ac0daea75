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
/// This is the one file that calls SQLite's C API: for the statements every open runs, and
/// as `Connection`, for the replay guard's few statements. GRDB's generic fetches
/// instantiate type metadata on first use, a scan of the whole binary's conformance records
/// each, which a CGI process pays on every request (BENCHMARKS.md: 6.9 M of a CGI request's
/// 11.9 M instructions were opening the replay guard's file).
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
        return try retryingLostRaces(busyTimeout: busyTimeout) {
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
                throw error
            }
        }
    }

    /// Opens (creating) `path` as a `Connection`, without GRDB: WAL mode, `durability`, a
    /// busy timeout, and `migrations` (identifier, SQL) applied in order, recorded in the
    /// same `grdb_migrations` table GRDB's migrator keeps, so a file either opened stays
    /// readable by the other. For the replay guard, which a CGI process opens on every
    /// request: GRDB's open and migrator cost it 2.9 M instructions (BENCHMARKS.md).
    package static func connect(_ path: String, durability: Durability, busyTimeout: Double = 10, migrations: [(identifier: String, sql: String)]) throws -> Connection {
        try FileSystem.createDirectories(FileSystem.directory(of: path))
        try FileSystem.createDataFile(path)
        return try retryingLostRaces(busyTimeout: busyTimeout) {
            let connection = try Connection(path: path, busyTimeout: busyTimeout)
            do {
                if try text(connection.handle, "PRAGMA journal_mode") != "wal" {
                    let mode = try text(connection.handle, "PRAGMA journal_mode = WAL")
                    guard mode == "wal" else { throw DatabaseError(message: "can't use WAL mode for \(path) (got \(mode ?? "nothing"))") }
                }
                try connection.execute("PRAGMA synchronous = \(durability.rawValue)")
                let applied = try text(connection.handle, "SELECT COUNT(*) FROM grdb_migrations", missingTableIsNil: true)
                if Int(applied ?? "") != migrations.count {
                    try migrate(connection, migrations)
                }
                return connection
            } catch {
                connection.close()
                throw error
            }
        }
    }

    /// Applies the migrations `connection` lacks, in one `BEGIN IMMEDIATE` transaction: the
    /// check runs under the write lock, so two processes never both apply one.
    private static func migrate(_ connection: Connection, _ migrations: [(identifier: String, sql: String)]) throws {
        try connection.inTransaction {
            try connection.execute("CREATE TABLE IF NOT EXISTS grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
            let isApplied = try connection.prepare("SELECT 1 FROM grdb_migrations WHERE identifier = ?1")
            let record = try connection.prepare("INSERT INTO grdb_migrations (identifier) VALUES (?1)")
            for migration in migrations {
                try isApplied.bind(1, migration.identifier)
                guard try isApplied.firstText() == nil else { continue }
                try connection.execute(migration.sql)
                try record.bind(1, migration.identifier)
                try record.run()
            }
        }
    }

    /// Runs `open` until it succeeds. Processes that find a file new at the same moment (CGI
    /// requests arriving together) race, and the loser tries again until `busyTimeout` has
    /// passed (see `open`); any other failure is tried a few times, then thrown.
    private static func retryingLostRaces<T>(busyTimeout: Double, _ open: () throws -> T) throws -> T {
        let deadline = Timestamp.monotonicNanoseconds() + UInt64(busyTimeout * 1e9)
        var attempt = 0
        while true {
            do {
                return try open()
            } catch {
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
        return try text(connection, sql, missingTableIsNil: missingTableIsNil)
    }

    private static func text(_ connection: OpaquePointer, _ sql: String, missingTableIsNil: Bool = false) throws -> String? {
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

    /// One SQLite connection through the C API, for a caller that runs a few statements of
    /// its own, prepared once, with no GRDB in between (the replay guard). Not thread-safe:
    /// its owner serialises every use.
    package final class Connection {
        fileprivate let handle: OpaquePointer
        /// Set by `close`; a statement is then already finalized.
        fileprivate private(set) var isClosed = false

        fileprivate init(path: String, busyTimeout: Double) throws {
            var handle: OpaquePointer? = nil
            // NOMUTEX: the owner serialises access, so SQLite's own locking is not needed.
            let code = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
            guard code == SQLITE_OK, let handle else {
                let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
                sqlite3_close_v2(handle)
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "can't open \(path): \(message)")
            }
            self.handle = handle
            sqlite3_busy_timeout(handle, Int32(busyTimeout * 1000))
        }

        /// Finalizes the prepared statements and closes the connection; the last connection
        /// to a file checkpoints its WAL into it (sqlite.org/wal.html).
        package func close() {
            guard !isClosed else { return }
            isClosed = true
            while let statement = sqlite3_next_stmt(handle, nil) { sqlite3_finalize(statement) }
            sqlite3_close_v2(handle)
        }

        /// Runs `sql`, one or more statements without parameters.
        package func execute(_ sql: String) throws {
            let code = sqlite3_exec(handle, sql, nil, nil, nil)
            guard code == SQLITE_OK else { throw failure(code, sql: sql) }
        }

        /// Prepares `sql` once, to run many times.
        package func prepare(_ sql: String) throws -> Statement {
            var statement: OpaquePointer? = nil
            let code = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
            guard code == SQLITE_OK, let statement else { throw failure(code, sql: sql) }
            return Statement(connection: self, handle: statement, sql: sql)
        }

        /// BEGIN and COMMIT, prepared on first use and kept (a transaction per request must not
        /// parse them each time).
        private var begin: Statement?
        private var commit: Statement?

        /// Runs `body` in one `BEGIN IMMEDIATE` transaction: committed if it returns, rolled
        /// back if it throws.
        package func inTransaction<T>(_ body: () throws -> T) throws -> T {
            let begin = try self.begin ?? prepare("BEGIN IMMEDIATE TRANSACTION")
            let commit = try self.commit ?? prepare("COMMIT TRANSACTION")
            self.begin = begin
            self.commit = commit
            try begin.run()
            do {
                let result = try body()
                try commit.run()
                return result
            } catch {
                if isInsideTransaction { try? execute("ROLLBACK TRANSACTION") }
                throw error
            }
        }

        /// Rows changed by the last INSERT, UPDATE or DELETE.
        package var changes: Int { Int(sqlite3_changes(handle)) }

        /// True between BEGIN and COMMIT or ROLLBACK.
        package var isInsideTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

        fileprivate func failure(_ code: Int32, sql: String?) -> DatabaseError {
            DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(handle)), sql: sql)
        }
    }

    /// A statement prepared once: bind its parameters, then `run` or `firstText`, which
    /// reset it for the next use.
    package final class Statement {
        private let connection: Connection
        private let handle: OpaquePointer
        private let sql: String

        fileprivate init(connection: Connection, handle: OpaquePointer, sql: String) {
            self.connection = connection
            self.handle = handle
            self.sql = sql
        }

        deinit { if !connection.isClosed { sqlite3_finalize(handle) } }

        /// Binds `value` to parameter `index` (`?1` is 1); SQLite copies it.
        package func bind(_ index: Int32, _ value: String) throws {
            // SQLITE_TRANSIENT (a C macro Swift does not import): SQLite takes a copy.
            let code = value.withCString { sqlite3_bind_text(handle, index, $0, -1, unsafeBitCast(-1, to: sqlite3_destructor_type.self)) }
            guard code == SQLITE_OK else { throw connection.failure(code, sql: sql) }
        }

        /// Binds `value` to parameter `index` (`?1` is 1).
        package func bind(_ index: Int32, _ value: Int64) throws {
            let code = sqlite3_bind_int64(handle, index, value)
            guard code == SQLITE_OK else { throw connection.failure(code, sql: sql) }
        }

        /// Runs the statement to its end.
        package func run() throws {
            defer { sqlite3_reset(handle) }
            var code = sqlite3_step(handle)
            while code == SQLITE_ROW { code = sqlite3_step(handle) }
            guard code == SQLITE_DONE else { throw connection.failure(code, sql: sql) }
        }

        /// The first column of the first row, as text (nil for no row or NULL).
        package func firstText() throws -> String? {
            defer { sqlite3_reset(handle) }
            switch sqlite3_step(handle) {
            case SQLITE_ROW: return sqlite3_column_text(handle, 0).map { String(cString: $0) }
            case SQLITE_DONE: return nil
            case let code: throw connection.failure(code, sql: sql)
            }
        }
    }
}
