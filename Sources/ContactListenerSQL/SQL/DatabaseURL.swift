/// A database server address written as a URL: `postgres://user:password@host:port/database`
/// or `mysql://…`. User, password and database are percent-decoded (a password with `@` or
/// `/` is written `%40`, `%2F`). Only `socket=` is taken from the query (MySQL's unix socket).
import ContactListenerKit
struct DatabaseURL: Sendable, Equatable {
    /// The scheme as written (`postgres`, `postgresql`, `mysql`, `mariadb`).
    var scheme: String
    /// The user name.
    var user: String
    /// The password, if any.
    var password: String?
    /// The host name or address (without IPv6 brackets).
    var host: String
    /// The port.
    var port: Int
    /// The database name.
    var database: String
    /// A unix socket path (`?socket=/run/mysqld/mysqld.sock`), if given.
    var socket: String?

    /// Why a URL could not be read; never repeats the password.
    struct ParseError: Error, CustomStringConvertible {
        /// What is wrong.
        let description: String
    }

    /// Parses `text`, accepting only `schemes`; `defaultPort` applies when none is written.
    init(_ text: String, schemes: [String], defaultPort: Int) throws(ParseError) {
        let text = Substring(text)
        guard let separator = text.range(of: "://") else {
            throw ParseError(description: "expected \(schemes[0])://user:password@host:port/database")
        }
        scheme = String(text[..<separator.lowerBound]).lowercased()
        guard schemes.contains(scheme) else {
            throw ParseError(description: "the scheme must be \(schemes.map { "\($0)://" }.joined(separator: " or ")), not '\(scheme)://'")
        }
        var rest = text[separator.upperBound...]
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        guard let slash = rest.firstIndex(of: "/") else {
            throw ParseError(description: "the URL names no database (add /DATABASE after the host)")
        }
        database = try Self.decode(rest[rest.index(after: slash)...], part: "database")
        guard !database.isEmpty else { throw ParseError(description: "the URL names no database (add /DATABASE after the host)") }
        var authority = rest[..<slash]
        // The last '@' separates the credentials: an unencoded '@' in a password still works.
        guard let at = authority.lastIndex(of: "@") else {
            throw ParseError(description: "the URL names no user (write \(scheme)://USER:PASSWORD@HOST/DATABASE)")
        }
        let credentials = authority[..<at]
        authority = authority[authority.index(after: at)...]
        if let colon = credentials.firstIndex(of: ":") {
            user = try Self.decode(credentials[..<colon], part: "user")
            password = try Self.decode(credentials[credentials.index(after: colon)...], part: "password")
        } else {
            user = try Self.decode(credentials, part: "user")
            password = nil
        }
        guard !user.isEmpty else { throw ParseError(description: "the URL's user is empty") }

        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw ParseError(description: "unclosed '[' in the host") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty {
                throw ParseError(description: "unexpected '\(after)' after the host")
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            portText = authority[authority.index(after: colon)...]
        } else {
            host = String(authority)
        }
        guard !host.isEmpty else { throw ParseError(description: "the URL names no host") }
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw ParseError(description: "the port must be a number from 1 to 65535, not '\(portText)'")
            }
            port = value
        } else {
            port = defaultPort
        }

        socket = nil
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0])
            guard key == "socket", parts.count == 2 else {
                throw ParseError(description: "unknown URL parameter '\(key)' (only 'socket' is read; use the handler's own keys like tls:)")
            }
            socket = try Self.decode(parts[1], part: "socket")
        }
    }

    /// `host:port/database`, for messages (no credentials).
    var redacted: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(shownHost):\(port)/\(database)"
    }

    /// Percent-decodes one part of the URL.
    private static func decode(_ text: Substring, part: String) throws(ParseError) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard utf8.count >= 2, let high = Hex.value(utf8[utf8.startIndex]),
                  let low = Hex.value(utf8[utf8.startIndex + 1]) else {
                throw ParseError(description: "bad percent-escape in the URL's \(part)")
            }
            bytes.append(high << 4 | low)
            utf8 = utf8.dropFirst(2)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
