/// A value bound to a statement: the handlers only ever store text, whole numbers and NULL,
/// which every dialect represents the same way.
import ContactListenerKit
enum SQLValue: Sendable, Equatable {
    /// A UTF-8 string (TEXT / LONGTEXT utf8mb4).
    case text(String)
    /// A whole number (BIGINT / INTEGER).
    case integer(Int64)
    /// SQL NULL.
    case null

    /// `.text(value)`, or `.null` when the platform did not send the value.
    static func optional(_ value: String?) -> SQLValue {
        value.map(SQLValue.text) ?? .null
    }
}
