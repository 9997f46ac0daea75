import ContactListenerKit

/// The `console:` section: the operator's web pages, served by the listener itself under
/// `path` (docs/console.md).
///
/// ```yaml
/// console:
///   path: /contact-listener/console
///   users:
///     admin: "$argon2id$v=19$m=65536,t=2,p=1$…"   # contact-listener console passwd admin
///   allow_from: [192.0.2.0/24]                      # optional fence; default: anyone
/// ```
package struct ConsoleConfiguration: Sendable {
    /// The URL path the console lives under (no trailing slash).
    package var path: String
    /// User name → argon2id hash (`PasswordHash`).
    package var users: [String: String]
    /// Client ranges that may reach the console at all; nil lets any address reach the
    /// login form.
    var allowFrom: [AddressRange]?
    /// A session ends after this long without a page, in milliseconds.
    package var idleTimeout: Int64 = 30 * 60_000
    /// A session ends this long after its login whatever happens, in milliseconds.
    package var lifetime: Int64 = 12 * 3_600_000
    /// Always mark the cookies `Secure`, for sites whose TLS ends in a proxy in front of the
    /// web server (otherwise they are `Secure` when the web server says `HTTPS=on`).
    package var secureCookies = false

    /// `allow_from` as `check-config` prints it, or nil when every address may reach the form.
    package var allowFromSummary: String? { allowFrom.map { $0.map(\.description).joined(separator: ", ") } }

    /// The keys of the `console:` mapping.
    package static let keys = ["path", "users", "allow_from", "idle_timeout", "lifetime", "secure_cookies"]

    /// A console at `path` for `users` (tests, and the parser below).
    package init(path: String, users: [String: String]) {
        self.path = path
        self.users = users
    }

    /// Parses the `console:` mapping.
    package init(node: ConfigNode) throws(ConfigurationError) {
        try node.requireMapping(allowed: Self.keys)
        guard let pathNode = node["path"] else {
            throw node.error("the console needs 'path', the URL it is served under (e.g. /contact-listener/console)")
        }
        var path = try pathNode.string()
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        guard path.hasPrefix("/"), path.count > 1,
              path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "#") && $0 != UInt8(ascii: "%") })
        else {
            throw pathNode.error("expected a URL path starting with / and without spaces, ? or %, like /contact-listener/console")
        }
        guard let usersNode = node["users"] else {
            throw node.error("the console needs 'users'; run `contact-listener console passwd admin` and paste the line it prints under console.users")
        }
        var users: [String: String] = [:]
        for name in usersNode.keys {
            guard let child = usersNode[name] else { continue }
            guard !name.isEmpty, name.utf8.count <= 64, name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
                throw child.error("a user name is 1 to 64 visible ASCII characters")
            }
            let hash = try child.string()
            guard PasswordHash.isWellFormed(hash) else {
                throw child.error("expected an argon2id hash ($argon2id$v=19$…), never a password; run `contact-listener console passwd \(name)` and paste its line")
            }
            users[name] = hash
        }
        guard !users.isEmpty else {
            throw usersNode.error("name at least one user; run `contact-listener console passwd admin` and paste its line here")
        }
        self.init(path: path, users: users)
        if let allow = node["allow_from"] { allowFrom = try AddressRange.list(from: allow) }
        if let idle = node["idle_timeout"] { idleTimeout = try idle.duration(in: 60_000...(7 * 86_400_000)) }
        if let lifetime = node["lifetime"] { self.lifetime = try lifetime.duration(in: 60_000...(30 * 86_400_000)) }
        if let secure = node["secure_cookies"] { secureCookies = try secure.bool() }
    }

    /// True when `path` (a request's, without its query) is the console's.
    func serves(_ requestPath: String) -> Bool {
        requestPath == path || (requestPath.hasPrefix(path) && requestPath.utf8.dropFirst(path.utf8.count).first == UInt8(ascii: "/"))
    }
}
