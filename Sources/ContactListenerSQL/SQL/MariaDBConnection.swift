import ContactListenerKit
import CMariaDB
#if canImport(Glibc)
import Glibc
#endif

/// A MariaDB/MySQL connection through Debian's libmariadb (Connector/C): the only file that
/// calls the C client. Values are sent as literals escaped by `mysql_real_escape_string`
/// for the connection's utf8mb4 character set.
///
/// Connector/C's threading rules: `mysql_library_init` runs once before any other call (it
/// is not thread-safe), every thread that calls the library runs `mysql_thread_init` first
/// and `mysql_thread_end` before it exits, and a connection is used by one thread at a time
/// (`SQLServerHandler`'s lock).
final class MariaDBConnection: SQLConnection, @unchecked Sendable {
    // @unchecked: the handle and `broken` are only touched by the thread holding the
    // handler's lock, as Connector/C requires.
    private let handle: UnsafeMutablePointer<MYSQL>
    private var broken = false
    private var closed = false

    private init(handle: UnsafeMutablePointer<MYSQL>) {
        self.handle = handle
    }

    /// Connects with connect/read/write timeouts, sets up the session and migrates the schema.
    static func connect(_ options: SQLServerOptions) throws -> MariaDBConnection {
        try MariaDBLibrary.attachThread()
        guard let handle = mysql_init(nil) else { throw SQLFailure("mysql_init failed (out of memory)") }
        var seconds = UInt32(options.timeout)
        mysql_options(handle, MYSQL_OPT_CONNECT_TIMEOUT, &seconds)
        // A server that stops answering mid-statement fails the call instead of hanging it.
        mysql_options(handle, MYSQL_OPT_READ_TIMEOUT, &seconds)
        mysql_options(handle, MYSQL_OPT_WRITE_TIMEOUT, &seconds)
        _ = "utf8mb4".withCString { mysql_options(handle, MYSQL_SET_CHARSET_NAME, $0) }
        if options.tls {
            var on: my_bool = 1
            mysql_options(handle, MYSQL_OPT_SSL_ENFORCE, &on)
            mysql_options(handle, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on)
        }
        let url = options.url
        // No MYSQL_OPT_RECONNECT: a silent reconnect inside a transaction would lose its first
        // half; the handler reconnects between deliveries instead.
        let connected = mysql_real_connect(
            handle, url.socket == nil ? url.host : nil, url.user, url.password, url.database,
            UInt32(url.port), url.socket, 0)
        guard connected != nil else {
            let message = "\(String(cString: mysql_error(handle))) (error \(mysql_errno(handle)))"
            mysql_close(handle)
            throw SQLFailure("can't connect: \(message)")
        }
        let connection = MariaDBConnection(handle: handle)
        do {
            // Strict: a value that doesn't fit is an error, never silently cut. READ COMMITTED:
            // fewer gap locks between concurrent writers of different events.
            try connection.execute("SET SESSION sql_mode = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'", [])
            try connection.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", [])
            try connection.execute("SET SESSION innodb_lock_wait_timeout = \(options.timeout)", [])
            try SQLServerMigrator.migrate(connection, dialect: .mysql, timeout: options.timeout)
        } catch {
            connection.close()
            throw SQLFailure("can't set up the session: \(error)")
        }
        return connection
    }

    var isBroken: Bool { broken || closed }

    @discardableResult
    func execute(_ sql: String, _ arguments: [SQLValue]) throws -> Int {
        _ = try run(sql, arguments)
        let count = mysql_affected_rows(handle)
        // (my_ulonglong)-1 means the statement returned rows or failed: nothing changed.
        return count == UInt64.max ? 0 : Int(count)
    }

    func query(_ sql: String, _ arguments: [SQLValue]) throws -> [[String?]] {
        try run(sql, arguments) ?? []
    }

    func close() {
        guard !closed else { return }
        closed = true
        try? MariaDBLibrary.attachThread()
        mysql_close(handle)
    }

    /// Sends one statement; its rows, or nil when it returns none.
    private func run(_ sql: String, _ arguments: [SQLValue]) throws -> [[String?]]? {
        guard !closed else { throw SQLFailure("the connection is closed") }
        try MariaDBLibrary.attachThread()
        let statement = try render(sql, arguments)
        let status = statement.withUnsafeBufferPointer { bytes in
            mysql_real_query(handle, bytes.baseAddress, UInt(bytes.count))
        }
        if status != 0 { throw failure() }
        guard let result = mysql_store_result(handle) else {
            if mysql_field_count(handle) == 0 { return nil }
            throw failure()
        }
        defer { mysql_free_result(result) }
        let columns = Int(mysql_num_fields(result))
        var rows: [[String?]] = []
        while let row = mysql_fetch_row(result) {
            guard let lengths = mysql_fetch_lengths(result) else { throw failure() }
            rows.append((0..<columns).map { index in
                guard let cell = row[index] else { return nil }
                let bytes = UnsafeRawBufferPointer(start: cell, count: Int(lengths[index]))
                return String(decoding: bytes, as: UTF8.self)
            })
        }
        return rows
    }

    /// The statement with each `?` replaced by its value as an escaped literal.
    private func render(_ sql: String, _ arguments: [SQLValue]) throws -> [CChar] {
        var output: [CChar] = []
        output.reserveCapacity(sql.utf8.count + arguments.count * 16)
        var remaining = arguments[...]
        for byte in sql.utf8 {
            guard byte == UInt8(ascii: "?") else {
                output.append(CChar(bitPattern: byte))
                continue
            }
            guard let value = remaining.popFirst() else { throw SQLFailure("statement has more placeholders than values") }
            switch value {
            case .null:
                output.append(contentsOf: "NULL".utf8.map { CChar(bitPattern: $0) })
            case .integer(let number):
                output.append(contentsOf: String(number).utf8.map { CChar(bitPattern: $0) })
            case .text(let text):
                try appendEscaped(text, to: &output)
            }
        }
        guard remaining.isEmpty else { throw SQLFailure("statement has fewer placeholders than values") }
        return output
    }

    /// Appends `'text'`, escaped for the connection's character set and SQL mode.
    private func appendEscaped(_ text: String, to output: inout [CChar]) throws {
        let source = Array(text.utf8).map { CChar(bitPattern: $0) }
        var escaped = [CChar](repeating: 0, count: source.count * 2 + 1)
        let length = source.withUnsafeBufferPointer { from in
            escaped.withUnsafeMutableBufferPointer { to in
                mysql_real_escape_string(handle, to.baseAddress, from.baseAddress, UInt(from.count))
            }
        }
        guard length != UInt.max else { throw SQLFailure("mysql_real_escape_string failed") }
        output.append(CChar(bitPattern: UInt8(ascii: "'")))
        output.append(contentsOf: escaped[0..<Int(length)])
        output.append(CChar(bitPattern: UInt8(ascii: "'")))
    }

    /// The last error, marking the connection broken when it is gone: client errors (2000s:
    /// lost, gone away, timed out), or the server shutting down or killing it.
    private func failure() -> SQLFailure {
        let code = mysql_errno(handle)
        let message = String(cString: mysql_error(handle))
        if MariaDBErrorCode.connectionIsGone(code) { broken = true }
        return SQLFailure("\(message) (error \(code))")
    }
}

/// Connector/C's process-wide and per-thread set-up.
private enum MariaDBLibrary {
    /// `mysql_library_init`, run once (Swift runs a static's initializer exactly once).
    private static let initialized: Bool = mysql_server_init(0, nil, nil) == 0

    /// A thread-specific slot whose destructor runs `mysql_thread_end` when a thread that
    /// used the library exits (the dispatcher's and FastCGI's threads are plain pthreads).
    private static let threadKey: pthread_key_t? = {
        var key = pthread_key_t()
        guard pthread_key_create(&key, { _ in mysql_thread_end() }) == 0 else { return nil }
        return key
    }()

    /// Initializes the library and, once per thread, the calling thread.
    static func attachThread() throws {
        guard initialized, let key = threadKey else { throw SQLFailure("libmariadb could not be initialized") }
        if pthread_getspecific(key) == nil {
            mysql_thread_init()
            pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1))
        }
    }
}
