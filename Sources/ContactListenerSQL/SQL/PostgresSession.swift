import ContactListenerKit
import Logging
import PostgresNIO

/// A PostgreSQL connection (postgres-nio) used synchronously: each call blocks the calling
/// thread, a dispatcher or FastCGI worker thread and never one of NIO's event loops, until
/// the server answered or the deadline passed.
///
/// The server enforces `statement_timeout`; the client's own deadline (a little longer)
/// covers a server that stopped answering altogether: the connection is closed, which fails
/// the pending call, and marked broken.
final class PostgresSession: SQLConnection, @unchecked Sendable {
    // @unchecked: `broken` is only touched by the one thread holding the handler's lock.
    private let connection: PostgresConnection
    private let timeout: Int
    private let logger: Logger
    private var broken = false

    private init(connection: PostgresConnection, timeout: Int, logger: Logger) {
        self.connection = connection
        self.timeout = timeout
        self.logger = logger
    }

    /// Connects (with TLS when asked), sets the session's timeouts and migrates the schema.
    static func connect(_ options: SQLServerOptions) throws -> PostgresSession {
        let tls: PostgresConnection.Configuration.TLS
        if options.tls {
            do {
                tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            } catch {
                throw SQLFailure("can't set up TLS: \(error)")
            }
        } else {
            tls = .disable
        }
        let url = options.url
        var configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database, tls: tls)
        configuration.options.connectTimeout = .seconds(Int64(options.timeout))
        configuration.options.additionalStartupParameters = [
            ("application_name", "contact-listener"),
            ("statement_timeout", "\(options.timeout)s"),
            ("lock_timeout", "\(options.timeout)s"),
        ]
        var logger = Logger(label: "contact-listener.postgres")
        logger.logLevel = .critical  // failures reach the spool's log through the handler's errors
        let future = PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration, id: 1, logger: logger)
        let connection: PostgresConnection
        do {
            connection = try wait(for: future, seconds: options.timeout + 2)
        } catch let error as SQLFailure {
            // A connect that completes after its deadline must not leak its socket.
            future.whenSuccess { late in let _: EventLoopFuture<Void> = late.close() }
            throw SQLFailure("can't connect: \(error)")
        } catch {
            throw SQLFailure("can't connect: \(describe(error))")
        }
        let session = PostgresSession(connection: connection, timeout: options.timeout, logger: logger)
        do {
            try SQLServerMigrator.migrate(session, dialect: .postgres, timeout: options.timeout)
        } catch {
            session.close()
            throw SQLFailure("can't migrate the schema: \(error)")
        }
        return session
    }

    var isBroken: Bool { broken || connection.isClosed }

    @discardableResult
    func execute(_ sql: String, _ arguments: [SQLValue]) throws -> Int {
        try run(sql, arguments).metadata.rows ?? 0
    }

    func query(_ sql: String, _ arguments: [SQLValue]) throws -> [[String?]] {
        try run(sql, arguments).rows.map { row in row.map(Self.text) }
    }

    func close() {
        broken = true
        _ = try? Self.wait(for: connection.close(), seconds: 2)
    }

    private func run(_ sql: String, _ arguments: [SQLValue]) throws -> PostgresQueryResult {
        var bindings = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            switch argument {
            // PostgreSQL's text can't hold NUL (0x00); the exact value stays in events.json.
            case .text(let text): bindings.append(text.contains("\u{0}") ? text.replacingNUL() : text)
            case .integer(let number): bindings.append(number)
            case .null: bindings.appendNull()
            }
        }
        let query = PostgresQuery(unsafeSQL: Self.numberedPlaceholders(sql), binds: bindings)
        do {
            return try Self.wait(for: connection.query(query, logger: logger), seconds: timeout + 2)
        } catch let error as PSQLError where error.code == .server {
            // The server refused the statement; the connection itself is fine (after ROLLBACK).
            throw SQLFailure(Self.describe(error))
        } catch {
            broken = true
            let _: EventLoopFuture<Void> = connection.close()
            throw SQLFailure(Self.describe(error))
        }
    }

    /// `?` → `$1`, `$2`, …; the writer's statements contain no other question marks.
    private static func numberedPlaceholders(_ sql: String) -> String {
        var result = ""
        result.reserveCapacity(sql.utf8.count + 16)
        var number = 0
        for character in sql {
            if character == "?" {
                number += 1
                result += "$\(number)"
            } else {
                result.append(character)
            }
        }
        return result
    }

    /// Blocks until `future` completes or `seconds` pass (then fails with a timeout).
    private static func wait<Value: Sendable>(for future: EventLoopFuture<Value>, seconds: Int) throws -> Value {
        let promise = future.eventLoop.makePromise(of: Value.self)
        let timer = future.eventLoop.scheduleTask(in: .seconds(Int64(seconds))) {
            promise.fail(SQLFailure("no answer within \(seconds) s (the server is overloaded, stopped or unreachable)"))
        }
        future.whenComplete { result in
            timer.cancel()
            // Ignored when the timer already failed the promise.
            promise.completeWith(result)
        }
        return try promise.futureResult.wait()
    }

    /// A cell as text (nil for NULL), whatever its type. Decoding goes by the column's type:
    /// a String decode of a binary integer would not fail but return its raw bytes.
    private static func text(_ cell: PostgresCell) -> String? {
        guard cell.bytes != nil else { return nil }
        switch cell.dataType {
        case .int2, .int4, .int8: return (try? cell.decode(Int64.self)).map { String($0) }
        case .float4, .float8: return (try? cell.decode(Double.self)).map { String($0) }
        case .bool: return (try? cell.decode(Bool.self)).map { $0 ? "1" : "0" }
        default: return try? cell.decode(String.self)
        }
    }

    /// PSQLError hides its details from `description`; show the server's message and
    /// SQLSTATE (never the statement's values, which are contact data).
    private static func describe(_ error: any Error) -> String {
        if let failure = error as? SQLFailure { return failure.description }
        guard let error = error as? PSQLError else { return "\(error)" }
        if let info = error.serverInfo, let message = info[.message] {
            return "\(message) (SQLSTATE \(info[.sqlState] ?? "?"))"
        }
        if let underlying = error.underlying { return "\(error.code): \(underlying)" }
        return "\(error.code)"
    }
}

extension String {
    /// The string with every NUL character replaced by U+FFFD.
    fileprivate func replacingNUL() -> String {
        String(String.UnicodeScalarView(unicodeScalars.map { $0 == "\u{0}" ? "\u{FFFD}" : $0 }))
    }
}
