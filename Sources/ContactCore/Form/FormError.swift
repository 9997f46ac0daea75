/// Why a body could not be decoded; each case names the offending key or value.
package enum FormError: Error, Equatable, Sendable, CustomStringConvertible {
    /// More variables than `limits.max_vars`.
    case tooManyVariables(limit: Int)
    /// A name nested deeper than `limits.max_depth`.
    case tooDeep(name: String, limit: Int)
    /// A name longer than `limits.max_key_bytes`.
    case keyTooLong(prefix: String, limit: Int)
    /// A value longer than `limits.max_value_bytes`.
    case valueTooLong(name: String, limit: Int)
    /// A JSON body that is not valid JSON, with the byte offset of the problem.
    case invalidJSON(offset: Int, reason: String)
    /// A JSON body whose top level is not an object or array.
    case jsonNotAnObject
    /// A multipart body that can't be split into parts.
    case invalidMultipart(reason: String)
    /// A multipart body with more parts than `limits.max_parts`.
    case tooManyParts(limit: Int)

    /// The one-line message sent to the client and logged.
    package var description: String {
        switch self {
        case .tooManyVariables(let limit):
            return "too many variables: more than \(limit) (limits.max_vars)"
        case .tooDeep(let name, let limit):
            return "variable '\(name.prefix(64))' is nested deeper than \(limit) levels (limits.max_depth)"
        case .keyTooLong(let prefix, let limit):
            return "variable name '\(prefix)…' is longer than \(limit) bytes (limits.max_key_bytes)"
        case .valueTooLong(let name, let limit):
            return "value of '\(name.prefix(64))' is longer than \(limit) bytes (limits.max_value_bytes)"
        case .invalidJSON(let offset, let reason):
            return "invalid JSON at byte \(offset): \(reason)"
        case .jsonNotAnObject:
            return "JSON body must be an object"
        case .invalidMultipart(let reason):
            return "invalid multipart body: \(reason)"
        case .tooManyParts(let limit):
            return "too many multipart parts: more than \(limit) (limits.max_parts)"
        }
    }

    /// True for limit violations, which are answered 413 rather than 400.
    package var isSizeLimit: Bool {
        switch self {
        case .tooManyVariables, .keyTooLong, .valueTooLong, .tooManyParts: return true
        default: return false
        }
    }
}
