/// A configuration problem, naming the file, line, key and what to do about it.
public struct ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The configuration file, or "built-in defaults".
    public var file: String
    /// The 1-based line of the offending value, when known.
    public var line: Int?
    /// The dotted key path (`limits.max_vars`, `handlers[0].path`).
    public var key: String
    /// What is wrong, and what to do.
    public var reason: String

    /// Creates an error.
    public init(file: String, line: Int?, key: String, reason: String) {
        self.file = file
        self.line = line
        self.key = key
        self.reason = reason
    }

    /// `FILE:LINE: KEY: REASON` — one line, like a compiler's.
    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        return key.isEmpty ? "\(location): \(reason)" : "\(location): \(key): \(reason)"
    }
}
