import ContactListenerKit
@preconcurrency import GRDB

/// `SQLSession` over a GRDB database connection, inside the transaction GRDB opened.
struct SQLiteSession: SQLSession {
    /// The connection, valid for the duration of the GRDB access block.
    let database: Database

    @discardableResult
    func execute(_ sql: String, _ arguments: [SQLValue]) throws -> Int {
        try database.execute(sql: sql, arguments: Self.arguments(arguments))
        return database.changesCount
    }

    func query(_ sql: String, _ arguments: [SQLValue]) throws -> [[String?]] {
        try Row.fetchAll(database, sql: sql, arguments: Self.arguments(arguments)).map { row in
            (0..<row.count).map { index in Self.text(row[index] as DatabaseValue) }
        }
    }

    private static func arguments(_ values: [SQLValue]) -> StatementArguments {
        StatementArguments(values.map { value -> DatabaseValue in
            switch value {
            case .text(let text): return text.databaseValue
            case .integer(let number): return number.databaseValue
            case .null: return .null
            }
        })
    }

    /// Any stored value as text, the way the server sessions return it.
    private static func text(_ value: DatabaseValue) -> String? {
        switch value.storage {
        case .null: return nil
        case .int64(let number): return String(number)
        case .double(let number): return String(number)
        case .string(let text): return text
        case .blob(let data): return String(decoding: data, as: UTF8.self)
        }
    }
}
