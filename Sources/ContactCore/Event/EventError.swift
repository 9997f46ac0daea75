/// Why a decoded request can't form a contact event; each case names the offending key.
package enum EventError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A key that must hold a string holds an array (`transactionid[]=…`).
    case expectedString(key: String)
    /// A section that must hold an array holds a string (`fields=abc`).
    case expectedArray(key: String)

    /// The one-line message sent to the client and logged.
    package var description: String {
        switch self {
        case .expectedString(let key): return "'\(key)' must be a single value, not an array"
        case .expectedArray(let key): return "'\(key)' must be an array (e.g. \(key)[0][name]=…), not a single value"
        }
    }
}
