import ContactListenerKit
import ContactListenerSQL
import ListenerSupport
@preconcurrency import GRDB

/// The console's logins, kept in the spool's database (tables `console_sessions` and
/// `console_failures`, spool migration v5), so FastCGI threads and CGI processes share them
/// (docs/console.md, "Sessions").
///
/// - A session is a random 256-bit token in an `HttpOnly`, `SameSite=Strict` cookie; the
///   database holds only its SHA-256, so a copy of the spool logs nobody in.
/// - A token is only ever made by a successful login, and a login always makes a new one
///   (and ends the one the browser had): a token planted before the login is worth nothing
///   (session fixation).
/// - A session remembers the user's hash it logged in with: a new password (a new hash in
///   `console.users`) ends every session of that user.
/// - Every session has its own CSRF token, which every POST form carries.
/// - Login attempts are counted as failures before the password is checked, in the same
///   transaction as the count that admits them (`admit`), so attempts sent at once cannot
///   all pass the check; past `limit` within `window` the form answers 429.
struct ConsoleSessions: Sendable {
    /// The spool whose database holds the tables.
    let spool: Spool
    /// A session ends after this long without a page (ms).
    let idleTimeout: Int64
    /// A session ends this long after its login (ms).
    let lifetime: Int64

    /// Failed logins are counted over this window (ms)…
    static let window: Int64 = 15 * 60_000
    /// … and this many within it, for one address or one user name, close the form.
    static let limit = 10

    /// A logged-in session.
    struct Session: Sendable, Equatable {
        /// The user name.
        let user: String
        /// The token every POST form of this session must carry.
        let csrf: String
    }

    /// 32 bytes from the system's CSPRNG, hex.
    static func randomToken() -> String { SecureRandom.hex(bytes: 32) }

    /// Starts a session for `user`, whose configured hash is `hash`; returns the cookie's
    /// token and the session.
    func create(user: String, hash: String, now: Int64 = Clock.milliseconds()) throws -> (token: String, session: Session) {
        let token = Self.randomToken()
        let session = Session(user: user, csrf: Self.randomToken())
        try spool.database.write { db in
            // Ended sessions go as new ones come: the table stays as small as the logins.
            try db.execute(sql: "DELETE FROM console_sessions WHERE seen_at < ? OR created_at < ?", arguments: [now - idleTimeout, now - lifetime])
            try db.execute(
                sql: "INSERT INTO console_sessions (id_hash, user, credential, csrf, created_at, seen_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [SQLKey.hash(token), user, SQLKey.hash(hash), session.csrf, now, now])
        }
        return (token, session)
    }

    /// The live session of `token`, or nil (unknown, idle too long, too old, or its user
    /// gone from `users` or given a new password since: then it is ended).
    func find(token: String, users: [String: String], now: Int64 = Clock.milliseconds()) throws -> Session? {
        guard token.utf8.count == 64, token.utf8.allSatisfy({ Hex.value($0) != nil }) else { return nil }
        let key = SQLKey.hash(token)
        let row = try spool.database.read { db in
            try Row.fetchOne(db, sql: "SELECT user, credential, csrf, created_at, seen_at FROM console_sessions WHERE id_hash = ?", arguments: [key])
        }
        guard let row else { return nil }
        let user: String = row["user"]
        let credential: String = row["credential"]
        let createdAt: Int64 = row["created_at"]
        let seenAt: Int64 = row["seen_at"]
        guard let hash = users[user], SQLKey.hash(hash) == credential, now - seenAt < idleTimeout, now - createdAt < lifetime else {
            try end(token: token)
            return nil
        }
        if now - seenAt > 60_000 {
            // At most one write a minute per session: reading pages costs no fsync.
            try spool.database.write { db in
                try db.execute(sql: "UPDATE console_sessions SET seen_at = ? WHERE id_hash = ?", arguments: [now, key])
            }
        }
        return Session(user: user, csrf: row["csrf"])
    }

    /// Ends the session of `token`, if any.
    func end(token: String) throws {
        try spool.database.write { db in
            try db.execute(sql: "DELETE FROM console_sessions WHERE id_hash = ?", arguments: [SQLKey.hash(token)])
        }
    }

    /// Whether a login attempt may check its password.
    enum Admission: Equatable {
        /// Not before this many milliseconds.
        case refused(waitMilliseconds: Int64)
        /// Yes; these `console_failures` rows count it as failed until `succeeded` removes them.
        case admitted(pending: [Int64])
    }

    /// Admits a login attempt counted against `subjects` (see `subjects`), or refuses it
    /// when one of them has `limit` failures within `window`. The count and the attempt's
    /// own failure rows are one IMMEDIATE transaction: concurrent attempts, from threads or
    /// CGI processes, are counted one after the other.
    func admit(subjects: [String], now: Int64 = Clock.milliseconds()) throws -> Admission {
        try spool.database.writeWithoutTransaction { db in
            var admission = Admission.admitted(pending: [])
            try db.inTransaction(.immediate) {
                try db.execute(sql: "DELETE FROM console_failures WHERE at <= ?", arguments: [now - Self.window])
                var wait: Int64? = nil
                for subject in subjects {
                    let times = try Int64.fetchAll(
                        db, sql: "SELECT at FROM console_failures WHERE subject = ? AND at > ? ORDER BY at DESC LIMIT ?",
                        arguments: [subject, now - Self.window, Self.limit])
                    if times.count >= Self.limit, let oldest = times.last {
                        wait = max(wait ?? 0, oldest + Self.window - now)
                    }
                }
                if let wait {
                    admission = .refused(waitMilliseconds: max(1, wait))
                    return .commit
                }
                var pending: [Int64] = []
                for subject in subjects {
                    try db.execute(sql: "INSERT INTO console_failures (subject, at) VALUES (?, ?)", arguments: [subject, now])
                    pending.append(db.lastInsertedRowID)
                }
                admission = .admitted(pending: pending)
                return .commit
            }
            return admission
        }
    }

    /// Uncounts an admitted attempt whose password was right.
    func succeeded(_ pending: [Int64]) throws {
        try spool.database.write { db in
            for row in pending { try db.execute(sql: "DELETE FROM console_failures WHERE rowid = ?", arguments: [row]) }
        }
    }

    /// What a login attempt is counted against: its address (an IPv6 address by its /64,
    /// which one host usually has whole), and unless `countUser` is false the user name as
    /// typed (cut to 64 bytes, the longest a user name may be), known or not.
    static func subjects(address: ClientAddress?, text: String, user: String, countUser: Bool) -> [String] {
        var subject = "addr:" + text
        if let ip = address?.address, !(ip.high == 0 && ip.low >> 32 == 0xffff) {
            subject = "addr6:" + String(ip.high, radix: 16) + "::/64"
        }
        guard countUser else { return [subject] }
        return [subject, "user:" + String(decoding: user.utf8.prefix(64), as: UTF8.self)]
    }
}
