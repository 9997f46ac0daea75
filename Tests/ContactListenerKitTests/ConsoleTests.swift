import Foundation
@preconcurrency import GRDB
import Logging
import Synchronization
import Testing
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ContactListenerSQL

/// The console in process, over a real spool: who gets in, what a page shows, what a form
/// may change (docs/console.md, SECURITY.md "Console"). The browser flows run against the
/// real binary in IntegrationTests/ConsoleBrowserTests.
@Suite("Console: access, escaping, secrets, actions")
struct ConsoleTests {
    static let password = "correct horse battery staple"
    /// One hash for every test: argon2id costs 0.1 s by design.
    static let hash: String = (try? PasswordHash.make(password)) ?? ""

    // MARK: - Who gets in

    @Test("a page without a session redirects to the login; a POST without one is refused", arguments: [
        ("GET", "/", 303), ("GET", "/events", 303), ("GET", "/events/1", 303), ("GET", "/failures", 303),
        ("GET", "/contact?key=" + String(repeating: "a", count: 64), 303),
        ("POST", "/retry", 403), ("POST", "/purge", 403), ("POST", "/logout", 403),
    ])
    func noSession(method: String, path: String, status: Int) throws {
        let bench = try Bench()
        let response = bench.request(method, path, cookies: ["cl_console": String(repeating: "b", count: 64)], body: "handler=crm&event[]=1&confirm=yes")
        #expect(response.status == status)
        if status == 303 { #expect(response.header("Location") == "/ops/console/login") }
        #expect(response.header("Content-Security-Policy")?.contains("default-src 'none'") == true)
        #expect(response.header("Content-Security-Policy")?.contains("frame-ancestors 'none'") == true)
        #expect(response.header("X-Frame-Options") == "DENY")
    }

    @Test("logins: the right password, a wrong one, an unknown user, a form from elsewhere", arguments: [
        ("admin", password, true, 303, "console login"),
        ("admin", "wrong password!", true, 401, "console login failed"),
        ("mallory", password, true, 401, "console login failed"),
        ("admin", password, false, 403, "console login refused"),
    ])
    func login(user: String, password: String, sameBrowser: Bool, status: Int, logged: String) throws {
        let bench = try Bench()
        let form = bench.request("GET", "/login")
        let nonce = try #require(form.cookie("cl_console_login"))
        let sent = sameBrowser ? nonce : String(repeating: "c", count: 64)
        let response = bench.request("POST", "/login", cookies: ["cl_console_login": nonce],
                                     body: "nonce=\(sent)&user=\(user)&password=\(password.replacingOccurrences(of: " ", with: "+"))")
        #expect(response.status == status)
        #expect((response.cookie("cl_console") != nil) == (status == 303))
        let lines = bench.logs.lines
        #expect(lines.contains { $0.hasPrefix(logged + " ") }, "\(lines)")
        #expect(!lines.joined().contains(password), "a password reached the log")
        #expect(!lines.joined().contains("mallory"), "a name that is no user (perhaps a password) reached the log")
    }

    @Test("ten failed logins close the form for that address and that user, the right password included")
    func bruteForce() throws {
        let bench = try Bench()
        for _ in 0..<ConsoleSessions.limit {
            #expect(try bench.login(password: "not the password", address: "198.51.100.7").status == 401)
        }
        let refused = try bench.login(password: Self.password, address: "198.51.100.7")
        #expect(refused.status == 429)
        #expect(Int(refused.header("Retry-After") ?? "") ?? 0 > 0)
        // The user name is counted too: a second address guessing the same user is refused.
        #expect(try bench.login(password: Self.password, address: "203.0.113.9").status == 429)
        #expect(bench.logs.lines.contains { $0.hasPrefix("console login refused") && $0.contains("too many failed logins") })
    }

    @Test("an attempt counts as failed before its password is checked: attempts sent at once can't all pass the count")
    func attemptsCountedFirst() throws {
        let bench = try Bench()
        let subjects = ConsoleSessions.subjects(address: nil, text: "192.0.2.50", user: "admin", countUser: true)
        for _ in 0..<ConsoleSessions.limit {
            guard case .admitted = try bench.console.sessions.admit(subjects: subjects) else { Issue.record("refused too early"); return }
        }
        if case .admitted = try bench.console.sessions.admit(subjects: subjects) { Issue.record("the eleventh attempt was admitted") }
    }

    @Test("failures count per address (an IPv6 host by its /64), and per user name only without allow_from", arguments: [
        ("  allow_from: [2001:db8::/32]\n", "2001:db8:1:2::1", "2001:db8:1:2::ffff", 429),  // one /64, one host
        ("  allow_from: [2001:db8::/32]\n", "2001:db8:1:2::1", "2001:db8:1:3::1", 303),
        ("", "2001:db8:1:2::1", "2001:db8:1:3::1", 429),         // without allow_from the user name is counted too
        ("  allow_from: [192.0.2.0/24]\n", "192.0.2.10", "192.0.2.11", 303),  // with allow_from, one address can't lock a user out
        ("  allow_from: [192.0.2.0/24]\n", "192.0.2.10", "192.0.2.10", 429),
    ])
    func failureSubjects(extra: String, guesser: String, other: String, status: Int) throws {
        let bench = try Bench(extraConsole: extra)
        for _ in 0..<ConsoleSessions.limit { _ = try bench.login(password: "not the password", address: guesser) }
        #expect(try bench.login(password: Self.password, address: other).status == status)
    }

    @Test("a new password in console.users ends the user's sessions")
    func passwordChangeEndsSessions() throws {
        let bench = try Bench()
        let session = try bench.session()
        let changed = try Bench(spoolOf: bench, hash: try PasswordHash.make("another long password"))
        #expect(changed.request("GET", "/", cookies: ["cl_console": session.token]).status == 303)
    }

    @Test("a login always makes a new session and ends the one the browser had (session fixation)")
    func fixation() throws {
        let bench = try Bench()
        let planted = String(repeating: "d", count: 64)
        let first = try #require(try bench.login(password: Self.password, cookies: ["cl_console": planted]).cookie("cl_console"))
        #expect(first != planted)
        #expect(bench.request("GET", "/", cookies: ["cl_console": planted]).status == 303)
        #expect(bench.request("GET", "/", cookies: ["cl_console": first]).status == 200)
        let second = try #require(try bench.login(password: Self.password, cookies: ["cl_console": first]).cookie("cl_console"))
        #expect(second != first)
        #expect(bench.request("GET", "/", cookies: ["cl_console": first]).status == 303, "the old session outlived a new login")
        #expect(bench.request("GET", "/", cookies: ["cl_console": second]).status == 200)
    }

    @Test("cookies are HttpOnly and SameSite=Strict on the console's path, and Secure behind https", arguments: [false, true])
    func cookieAttributes(https: Bool) throws {
        let bench = try Bench()
        let response = try bench.login(password: Self.password, extra: https ? ["HTTPS": "on"] : [:])
        let header = try #require(response.headers.first { $0.name == "Set-Cookie" && $0.value.hasPrefix("cl_console=") }?.value)
        #expect(header.contains("; Path=/ops/console; HttpOnly; SameSite=Strict"))
        #expect(header.hasSuffix("; Secure") == https)
    }

    @Test("a POST needs this session's CSRF token and no foreign Origin; a refused one changes nothing", arguments: [
        ("none", [String: String](), 403), ("another session's", [:], 403), ("right, foreign Origin", ["HTTP_ORIGIN": "https://evil.example"], 403),
        ("right", ["HTTP_ORIGIN": "http://console.test"], 303), ("right, no Origin", [:], 303),
    ])
    func csrf(token: String, extra: [String: String], status: Int) throws {
        let bench = try Bench()
        let id = try bench.storeEvent(email: "ann@example.com")
        try bench.setState(.dead, eventID: id)
        let session = try bench.session()
        let other = try bench.session()
        let sent = token.hasPrefix("right") ? session.csrf : token == "none" ? nil : other.csrf
        let body = (sent.map { "csrf=\($0)&" } ?? "") + "handler=crm&event[]=\(id)&confirm=yes"
        let response = bench.request("POST", "/retry", cookies: ["cl_console": session.token], body: body, extra: extra)
        #expect(response.status == status)
        let state = try bench.state(eventID: id)
        #expect(state == (status == 303 ? "pending" : "dead"))
    }

    @Test("a cookie sent twice (one planted for a wider path or a parent domain) is no session")
    func duplicateCookies() throws {
        let bench = try Bench()
        let session = try bench.session()
        var params = ["HTTP_COOKIE": "cl_console=\(session.token); cl_console=\(String(repeating: "e", count: 64))"]
        #expect(bench.request("GET", "/", extra: params).status == 303)
        params["HTTP_COOKIE"] = "cl_console=\(session.token)"
        #expect(bench.request("GET", "/", extra: params).status == 200)
    }

    @Test("a login POST from another origin, or an opaque one, is refused", arguments: ["https://evil.example", "null"])
    func loginOrigin(origin: String) throws {
        let bench = try Bench()
        #expect(try bench.login(password: Self.password, extra: ["HTTP_ORIGIN": origin]).status == 403)
    }

    @Test("after a retry or purge the browser goes to a page rebuilt from a word, never to a URL from the form")
    func returnPage() throws {
        let bench = try Bench()
        let id = try bench.storeEvent(email: "r@example.com")
        try bench.setState(.dead, eventID: id)
        let session = try bench.session()
        for (from, location) in [("event", "/ops/console/events/\(id)"), ("failed", "/ops/console/failures?handler=crm&state=failed"),
                                 ("//evil.example/", "/ops/console/failures?handler=crm&state=dead")] {
            let response = bench.request("POST", "/retry", cookies: ["cl_console": session.token],
                                         body: "csrf=\(session.csrf)&handler=crm&event[]=\(id)&confirm=yes&from=\(from)&back=//evil.example/")
            #expect(response.status == 303 && response.header("Location") == location, "\(from)")
        }
    }

    @Test("console.allow_from keeps other addresses from even the login form")
    func allowFrom() throws {
        let bench = try Bench(extraConsole: "  allow_from: [192.0.2.0/24]\n")
        #expect(bench.request("GET", "/login", extra: ["REMOTE_ADDR": "198.51.100.1"]).status == 403)
        #expect(bench.request("GET", "/login", extra: ["REMOTE_ADDR": "192.0.2.10"]).status == 200)
    }

    // MARK: - What a page shows

    @Test("every value from an event is escaped on every page that shows it")
    func escaping() throws {
        let bench = try Bench()
        let hostile = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>"
        let id = try bench.storeEvent(email: "x\(hostile)@example.com", transactionID: "tx\(hostile)", field: hostile)
        try bench.setState(.dead, eventID: id, error: "HTTP 500: \(hostile)")
        let session = try bench.session()
        let contactKey = try #require(try bench.spool.consoleEvent(id: id)?.event.contactKey)
        for path in ["/events", "/events/\(id)", "/failures?handler=crm&state=dead", "/contact?key=\(contactKey)",
                     "/events?email=\(hostile.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"] {
            let page = bench.request("GET", path, cookies: ["cl_console": session.token])
            #expect(page.status == 200, "\(path)")
            let text = String(decoding: page.body, as: UTF8.self)
            #expect(!text.contains("<script>") && !text.contains("<img"), "\(path) shows markup from an event")
            #expect(!text.contains("'>") && !text.contains("\"'"), "\(path) lets a quote through")
            if path != "/events?email=" { #expect(text.contains("&lt;script&gt;") || path.hasPrefix("/events?"), "\(path)") }
        }
    }

    @Test("without a SQLite handler, a contact's field history comes from its events in the spool")
    func fieldHistoryFromSpool() throws {
        let bench = try Bench()
        let now = Clock.milliseconds()
        let first = try bench.storeEvent(email: "h@example.com", field: "Ann", now: now - 2000)
        _ = try bench.storeEvent(email: "h@example.com", field: "Ann", now: now - 1000)
        let third = try bench.storeEvent(email: "h@example.com", field: "Annie", now: now)
        let key = try #require(try bench.spool.consoleEvent(id: first)?.event.contactKey)
        let session = try bench.session()
        let text = String(decoding: bench.request("GET", "/contact?key=\(key)", cookies: ["cl_console": session.token]).body, as: UTF8.self)
        #expect(text.contains("From the events in the spool"))
        // Two changes (the second event changed nothing), newest first.
        let rows = text.components(separatedBy: "<tr><td>First Name</td>").dropFirst().map { String($0.prefix(60)) }
        #expect(rows.count == 2 && rows[0].hasPrefix("<td>Ann</td><td>Annie</td>") && rows[1].hasPrefix("<td>–</td><td>Ann</td>"), "\(rows)")
        #expect(text.contains("/events/\(third)\">#\(third)</a>"))
    }

    @Test("handler URLs and errors are shown without credentials or query strings")
    func secrets() throws {
        let bench = try Bench()
        let id = try bench.storeEvent(email: "ann@example.com")
        try bench.setState(.dead, eventID: id, error: "POST https://bob:hunter2@crm.example/api/PATHSECRET?api_key=SECRET123 answered 500; see https://hooks.example.com/services/T0/SECRET456")
        let session = try bench.session()
        for path in ["/", "/events/\(id)", "/failures?handler=crm&state=dead"] {
            let text = String(decoding: bench.request("GET", path, cookies: ["cl_console": session.token]).body, as: UTF8.self)
            #expect(!text.contains("hunter2") && !text.contains("SECRET") && !text.contains(Self.hash), "\(path) shows a secret")
            #expect(text.contains("https://crm.example/…") && !text.contains("/api"), "\(path)")
        }
    }

    // MARK: - Actions

    @Test("retry and purge ask first, then act on the events shown")
    func retryAndPurge() throws {
        let bench = try Bench()
        let ids = try (0..<3).map { try bench.storeEvent(email: "p\($0)@example.com") }
        for id in ids { try bench.setState(.dead, eventID: id) }
        let session = try bench.session()
        let all = ids.map { "event[]=\($0)" }.joined(separator: "&")
        let ask = bench.request("POST", "/retry", cookies: ["cl_console": session.token], body: "csrf=\(session.csrf)&handler=crm&\(all)")
        #expect(ask.status == 200 && String(decoding: ask.body, as: UTF8.self).contains("Retry 3 deliveries"))
        #expect(try ids.map { try bench.state(eventID: $0) } == ["dead", "dead", "dead"], "asking changed something")
        let retried = bench.request("POST", "/retry", cookies: ["cl_console": session.token],
                                    body: "csrf=\(session.csrf)&handler=crm&event[]=\(ids[0])&event[]=\(ids[1])&confirm=yes")
        #expect(retried.status == 303)
        #expect(try ids.map { try bench.state(eventID: $0) } == ["pending", "pending", "dead"])
        let purged = bench.request("POST", "/purge", cookies: ["cl_console": session.token],
                                   body: "csrf=\(session.csrf)&handler=crm&event[]=\(ids[2])&confirm=yes")
        #expect(purged.status == 303)
        #expect(try bench.state(eventID: ids[2]) == nil)
        #expect(bench.logs.lines.contains { $0.hasPrefix("console retry") && $0.contains("deliveries=2") })
        #expect(bench.logs.lines.contains { $0.hasPrefix("console purge") && $0.contains("deliveries=1") })
    }

    @Test("logging out ends the session")
    func logout() throws {
        let bench = try Bench()
        let session = try bench.session()
        let out = bench.request("POST", "/logout", cookies: ["cl_console": session.token], body: "csrf=\(session.csrf)")
        #expect(out.status == 303 && out.header("Location") == "/ops/console/login")
        #expect(bench.request("GET", "/", cookies: ["cl_console": session.token]).status == 303)
        #expect(bench.logs.lines.contains { $0.hasPrefix("console logout") && $0.contains("user=admin") })
    }

    // MARK: - Paging

    @Test("events page by keyset: every event once, newest first, ties broken by id")
    func keysetPages() throws {
        let bench = try Bench()
        let now = Clock.milliseconds()
        var stored: [Int64] = []
        for index in 0..<120 { stored.append(try bench.storeEvent(email: "k@example.com", now: now - Int64(index / 7))) }
        var seen: [Int64] = []
        var cursor: Spool.Cursor? = nil
        while true {
            let page = try bench.spool.consoleEvents(Spool.EventFilter(email: "k@example.com"), before: cursor, limit: ConsoleView.pageSize)
            seen += page.map(\.id)
            guard page.count == ConsoleView.pageSize, let last = page.last else { break }
            cursor = Spool.Cursor(after: last)
        }
        let expected = try bench.spool.database.read { db in
            try Int64.fetchAll(db, sql: "SELECT id FROM events ORDER BY received_at DESC, id DESC")
        }
        #expect(seen == expected && Set(seen) == Set(stored))
    }

    @Test("every events query searches its index in order: no scan of the table, no sort", arguments: [
        (Spool.EventFilter(), "events_received"), (Spool.EventFilter(email: "a@example.com"), "events_email"),
        (Spool.EventFilter(transactionID: "t"), "events_transaction"), (Spool.EventFilter(contactKey: "k"), "events_contact"),
        (Spool.EventFilter(from: 1, to: 2), "events_received"), (Spool.EventFilter(email: "a@example.com", from: 1), "events_email"),
    ])
    func queryPlans(filter: Spool.EventFilter, index: String) throws {
        let bench = try Bench()
        for cursor in [nil, Spool.Cursor("5.5")] {
            let query = Spool.eventsQuery(filter, before: cursor, limit: 50)
            let text = try bench.spool.database.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + query.sql, arguments: query.arguments).map { $0["detail"] as String }
            }.joined(separator: "; ")
            // An ordered walk of the right index, stopped by the LIMIT (a bare "SCAN events"
            // would read the whole table).
            #expect(text.hasSuffix("INDEX \(index)") || text.contains("INDEX \(index) ("), "\(filter): \(text)")
            #expect(!text.contains("TEMP B-TREE"), "\(filter) sorts: \(text)")
        }
    }

    @Test("a spool from before the console gets its events' emails and contact keys when it opens")
    func migrationBackfills() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cl-console-v4-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/spool.db"
        let old = try DatabaseQueue(path: path)
        try Spool.migrator.migrate(old, upTo: "v4")
        try old.write { db in
            try db.execute(sql: """
                INSERT INTO events (id, transaction_id, request_id, received_at, json) VALUES
                  (1, 't1', 'r1', 1, CAST('{"contact":{"id":"7","email":"  Ann@Example.COM "}}' AS BLOB)),
                  (2, 't2', 'r2', 2, CAST('{"contact":{"id":null,"email":null}}' AS BLOB)),
                  (3, 't3', 'r3', 3, CAST('not json' AS BLOB));
                INSERT INTO deliveries (event_id, handler, state, next_attempt_at, updated_at, contact_key) VALUES
                  (1, 'crm', 'delivered', 1, 1, 'key-of-7'), (2, 'crm', 'delivered', 2, 2, NULL), (3, 'crm', 'dead', 3, 3, NULL);
                """)
        }
        try old.close()
        let spool = try Spool(configuration: SpoolConfiguration(path: path), handlerNames: ["crm"])
        defer { spool.close() }
        let rows = try spool.database.read { db in
            try Row.fetchAll(db, sql: "SELECT id, email, contact_key FROM events ORDER BY id").map { [$0["email"] as String?, $0["contact_key"] as String?] }
        }
        #expect(rows == [["ann@example.com", "key-of-7"], [nil, nil], [nil, nil]])
        #expect(try spool.consoleEvents(Spool.EventFilter(email: "ann@example.com"), before: nil, limit: 10).map(\.id) == [1])
    }

    @Test("a spool from the first console (v5) opens, and its sessions, which know no password, end")
    func sessionsFromV5End() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cl-console-v5-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/spool.db"
        let token = ConsoleSessions.randomToken()
        let old = try DatabaseQueue(path: path)
        try Spool.migrator.migrate(old, upTo: "v5")
        try old.write { db in
            try db.execute(sql: "INSERT INTO console_sessions (id_hash, user, csrf, created_at, seen_at) VALUES (?, 'admin', 'c', ?, ?)",
                           arguments: [SQLKey.hash(token), Clock.milliseconds(), Clock.milliseconds()])
        }
        try old.close()
        let spool = try Spool(configuration: SpoolConfiguration(path: path), handlerNames: ["crm"])
        defer { spool.close() }
        let sessions = ConsoleSessions(spool: spool, idleTimeout: 60_000, lifetime: 3_600_000)
        #expect(try sessions.find(token: token, users: ["admin": Self.hash]) == nil)
        let created = try sessions.create(user: "admin", hash: Self.hash)
        #expect(try sessions.find(token: created.token, users: ["admin": Self.hash]) == created.session)
    }

    // MARK: - Configuration

    @Test("console configuration errors say what to do", arguments: [
        ("console:\n  path: /c\n  users: {admin: \"\(hash)\"}\n", nil, "add `spool:"),
        ("spool: s.db\nconsole:\n  path: /c\n  users: {admin: \"secret-password\"}\n", nil, "console passwd admin"),
        ("spool: s.db\nconsole:\n  path: /c\n", nil, "console passwd admin"),
        ("spool: s.db\nconsole:\n  path: c\n  users: {admin: \"\(hash)\"}\n", nil, "starting with /"),
        ("spool: s.db\nstatus_path: /c/status\nconsole:\n  path: /c\n  users: {admin: \"\(hash)\"}\n", nil, "a path of its own"),
        ("spool: s.db\nconsole:\n  path: /c/\n  users: {admin: \"\(hash)\"}\n", "/c", nil),
    ] as [(String, String?, String?)])
    func configuration(yaml: String, path: String?, error expected: String?) {
        do {
            let parsed = try ListenerConfiguration.parse(yaml, file: "t.yaml", baseDirectory: "/tmp", environment: [:])
            #expect(expected == nil, "accepted: \(yaml)")
            #expect(parsed.console?.path == path)
        } catch {
            if let expected {
                #expect(error.description.contains(expected), "\(error)")
            } else {
                Issue.record("refused: \(error)")
            }
        }
    }

    @Test("argon2id: the password matches its hash, nothing else does")
    func passwordHash() throws {
        #expect(PasswordHash.isWellFormed(Self.hash))
        #expect(PasswordHash.verify(Self.password, against: Self.hash))
        for wrong in ["", "correct horse battery stapl", Self.password + "\0", Self.password.uppercased()] {
            #expect(!PasswordHash.verify(wrong, against: Self.hash), "\(wrong)")
        }
        #expect(!PasswordHash.verify(Self.password, against: "plain text"))
        #expect(try PasswordHash.make(Self.password) != Self.hash, "no fresh salt")
    }
}

/// A console over a fresh spool with two handlers (`crm`, an http handler whose URL holds
/// secrets, and `db`), and the log lines it wrote.
private struct Bench {
    let folder: String
    let spool: Spool
    let console: Console
    let logs = LogLines()

    /// A console over `other`'s spool, whose admin has `hash` (a new password).
    init(spoolOf other: Bench, hash: String) throws {
        try self.init(folder: other.folder, hash: hash)
    }

    init(extraConsole: String = "", folder: String? = nil, hash: String = ConsoleTests.hash) throws {
        let folder = folder ?? FileManager.default.temporaryDirectory.appendingPathComponent("cl-console-\(UUID().uuidString)").path
        self.folder = folder
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let yaml = """
            spool: \(folder)/spool.db
            handlers:
              - type: http
                name: crm
                url: https://bob:hunter2@crm.example/api/PATHSECRET?api_key=SECRET123
              - type: jsonl
                name: db
                path: \(folder)/events.jsonl
            console:
              path: /ops/console
              users:
                admin: "\(hash)"
            \(extraConsole)
            """
        let configuration = try ListenerConfiguration.parse(yaml, file: "console.yaml", baseDirectory: folder, environment: [:])
        let spoolConfiguration = try #require(configuration.spool)
        let settings = try #require(configuration.console)
        spool = try Spool(configuration: spoolConfiguration, handlerNames: ["crm", "db"])
        let logs = self.logs
        let logger = Logger(label: "console-tests") { _ in RecordingLogHandler(lines: logs) }
        console = Console(listener: configuration, console: settings, spool: spool, board: nil, logger: logger)
    }

    func request(_ method: String, _ path: String, cookies: [String: String] = [:], body: String = "", extra: [String: String] = [:]) -> Response {
        let parts = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var params = [
            "REQUEST_METHOD": method, "REQUEST_URI": "/ops/console" + path, "QUERY_STRING": parts.count > 1 ? String(parts[1]) : "",
            "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "console.test",
        ]
        if !cookies.isEmpty { params["HTTP_COOKIE"] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        if method == "POST" { params["CONTENT_TYPE"] = "application/x-www-form-urlencoded" }
        for (key, value) in extra { params[key] = value }
        let request = Request(params: params, body: Array(body.utf8))
        return console.respond(to: request, path: "/ops/console" + String(parts[0]))
    }

    /// The login form, then its POST.
    func login(password: String, address: String = "127.0.0.1", cookies: [String: String] = [:], extra: [String: String] = [:]) throws -> Response {
        let form = request("GET", "/login", extra: ["REMOTE_ADDR": address])
        let nonce = try #require(form.cookie("cl_console_login"))
        var all = cookies
        all["cl_console_login"] = nonce
        var params = extra
        params["REMOTE_ADDR"] = address
        return request("POST", "/login", cookies: all, body: "nonce=\(nonce)&user=admin&password=\(password.replacingOccurrences(of: " ", with: "+"))", extra: params)
    }

    /// A logged-in session: its cookie token and the CSRF token its pages carry.
    func session() throws -> (token: String, csrf: String) {
        let token = try #require(try login(password: ConsoleTests.password).cookie("cl_console"))
        let page = String(decoding: request("GET", "/", cookies: ["cl_console": token]).body, as: UTF8.self)
        let marker = "name=\"csrf\" value=\""
        let start = try #require(page.range(of: marker)).upperBound
        return (token, String(page[start...].prefix(64)))
    }

    /// Stores an event decoded from a realistic form; returns its spool id.
    func storeEvent(email: String, transactionID: String? = nil, field: String = "Ann", now: Int64 = Clock.milliseconds()) throws -> Int64 {
        func encode(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "" }
        let tx = transactionID ?? "tx-\(UUID().uuidString)"
        let body = "transactionid=\(encode(tx))&contact[id]=\(encode(email))&contact[email]=\(encode(email))&fields[0][id]=1&fields[0][name]=First+Name&fields[0][value]=\(encode(field))"
        let arena = try URLEncodedFormDecoder().decodeArena(Array(body.utf8))
        let metadata = EventMetadata(receivedAt: Timestamp.now(), remoteAddress: "127.0.0.1", requestID: "r", method: "POST", mode: .structured)
        let encoded = try EventEncoder.encode(arena, metadata: metadata)
        let outcome = try spool.store([Spool.Item(
            dedupKey: nil, transactionID: encoded.transactionID, requestID: "r", json: encoded.json,
            contactKey: Spool.contactKey(id: encoded.contactID, email: encoded.contactEmail), email: Spool.searchEmail(encoded.contactEmail))], now: now)
        guard case .stored(let id) = outcome.first else { throw CancellationError() }
        return id
    }

    func setState(_ state: DeliveryState, eventID: Int64, error: String = "HTTP 500") throws {
        try spool.database.write { db in
            try db.execute(sql: "UPDATE deliveries SET state = ?, last_error = ?, attempts = 7 WHERE event_id = ? AND handler = 'crm'",
                           arguments: [state.rawValue, error, eventID])
        }
    }

    func state(eventID: Int64) throws -> String? {
        try spool.database.read { db in
            try String.fetchOne(db, sql: "SELECT state FROM deliveries WHERE event_id = ? AND handler = 'crm'", arguments: [eventID])
        }
    }
}

extension Response {
    /// The first header called `name`.
    func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }

    /// The value a `Set-Cookie` header gives cookie `name` (nil when none does, or it is emptied).
    func cookie(_ name: String) -> String? {
        for header in headers where header.name == "Set-Cookie" && header.value.hasPrefix(name + "=") {
            let value = header.value.dropFirst(name.count + 1).prefix { $0 != ";" }
            return value.isEmpty ? nil : String(value)
        }
        return nil
    }
}

/// Log lines as `message key=value …`, sorted keys.
final class LogLines: Sendable {
    private let storage = Mutex<[String]>([])
    var lines: [String] { storage.withLock { $0 } }
    func append(_ line: String) { storage.withLock { $0.append(line) } }
}

/// Records each log line into `LogLines`.
struct RecordingLogHandler: LogHandler {
    let lines: LogLines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let pairs = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        lines.append(([event.message.description] + pairs).joined(separator: " "))
    }
}
