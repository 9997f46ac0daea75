import ContactListenerKit
import ListenerSupport
import Logging

/// The operator's console: server-rendered pages under `console.path`, served by the same
/// FastCGI process (or CGI script) as the listener, over the spool (docs/console.md).
///
/// The order of checks for every request: `allow_from`, then the static stylesheet and the
/// login form (no session needed), then the session cookie (a page without one redirects to
/// the login), then for a POST its CSRF token and `Origin`. Every answer carries a strict
/// Content-Security-Policy; the pages have no script at all.
package final class Console: Sendable {
    /// The configuration in force.
    let configuration: ConsoleConfiguration
    /// Where the events, deliveries, sessions and failed logins are.
    let spool: Spool
    /// Logins and their CSRF tokens.
    let sessions: ConsoleSessions
    /// The status page's figures (nil under CGI: no process lives to count).
    let board: StatusBoard?
    /// The FastCGI worker threads.
    let threads: Int
    /// The handlers as the overview shows them (no secret: see `ConsoleHandler`).
    let handlers: [ConsoleHandler]
    /// The first SQLite handler's database, whose `contact_field_history` the contact page
    /// reads; nil without one.
    let historyDatabase: String?
    /// Peers whose `X-Forwarded-For` is believed (`verify.trusted_proxies`).
    let trustedProxies: [AddressRange]
    let logger: Logger

    /// The session cookie's name.
    static let sessionCookie = "cl_console"
    /// The login form's cookie: its value is also in the form, so only a page this browser
    /// loaded from us can log it in (login CSRF).
    static let loginCookie = "cl_console_login"

    /// Creates the console of `listener` (whose `console` is set) over `spool`.
    package init(listener: ListenerConfiguration, console: ConsoleConfiguration, spool: Spool, board: StatusBoard?, logger: Logger) {
        configuration = console
        self.spool = spool
        sessions = ConsoleSessions(spool: spool, idleTimeout: console.idleTimeout, lifetime: console.lifetime)
        self.board = board
        threads = listener.threads
        handlers = listener.handlers.map { ConsoleHandler($0, rate: listener.rates[$0.name]) }
        trustedProxies = listener.verify.trustedProxies
        historyDatabase = listener.handlers.first { $0.type == "sqlite" }.flatMap { handler in
            (try? handler.options["path"]?.string()).map { handler.resolve(path: $0) }
        }
        self.logger = logger
    }

    /// True when `path` is the console's.
    package func serves(_ path: String) -> Bool { configuration.serves(path) }

    /// The answer to a request for one of the console's paths. Never throws: a spool that
    /// cannot be read is a 503 page.
    package func respond(to request: Request, path: String) -> Response {
        let client = ClientAddress.resolve(request, trustedProxies: trustedProxies)
        let address = client?.text ?? "-"
        if let allowed = configuration.allowFrom, !(client?.isTrusted(by: allowed) ?? false) {
            log(.warning, "console refused", address: address, ["reason": "not in console.allow_from"])
            return page(403, ConsoleView.message(title: "Not allowed", text: "This address may not use the console (console.allow_from)."))
        }
        let route = String(path.dropFirst(configuration.path.count))
        let view = ConsoleView(base: configuration.path)
        let secure = configuration.secureCookies || Self.isHTTPS(request)
        if route == "/console.css" { return Response(status: 200, body: Array(ConsoleView.stylesheet.utf8), contentType: "text/css; charset=utf-8", headers: Self.securityHeaders) }
        do {
            if route == "/login" {
                return try request.method == "POST"
                    ? login(request, client: client, address: address, secure: secure, view: view)
                    : loginForm(view: view, secure: secure, status: 200, note: nil)
            }
            let token = Self.cookie(Self.sessionCookie, in: request)
            guard let token, let session = try sessions.find(token: token, users: configuration.users) else {
                if request.method == "POST" {
                    log(.warning, "console refused", address: address, ["reason": "POST without a session", "path": .string(route)])
                    return page(403, ConsoleView.message(title: "Session ended", text: "Log in again; nothing was changed."))
                }
                return redirect(to: configuration.path + "/login")
            }
            if request.method == "POST" {
                let form = ConsoleForm(body: request.body)
                guard Self.sameOrigin(request), let sent = form["csrf"], Self.constantTimeEqual(sent, session.csrf) else {
                    log(.warning, "console refused", address: address, ["reason": "POST without this session's CSRF token", "path": .string(route), "user": .string(session.user)])
                    return page(403, ConsoleView.message(title: "Refused", text: "This form did not come from this console session; nothing was changed. Reload the page and try again."))
                }
                return try post(route, form: form, token: token, session: session, address: address, secure: secure, view: view)
            }
            guard request.method == "GET" || request.method == "HEAD" else {
                return page(405, ConsoleView.message(title: "Method not allowed", text: "The console answers GET and POST."))
            }
            return try get(route, query: ConsoleForm(query: request.queryString), session: session, view: view)
        } catch {
            // The details (SQL, paths) go to the log only: the login form answers strangers too.
            log(.error, "console failed", address: address, ["error": .string("\(error)")])
            return page(503, ConsoleView.message(title: "The spool could not be read", text: "Try again in a moment; the listener's log has the details."))
        }
    }

    // MARK: - Pages

    private func get(_ route: String, query: ConsoleForm, session: ConsoleSessions.Session, view: ConsoleView) throws -> Response {
        let layout = ConsoleView.Layout(user: session.user, csrf: session.csrf)
        switch route {
        case "", "/":
            let now = Clock.milliseconds()
            let counts = try spool.eventCounts(since: now - 86_400_000)
            return page(200, view.overview(
                layout, status: try spool.status(), pauses: try spool.pauses(now: now), handlers: handlers,
                events: counts, board: board?.snapshot(), threads: threads))
        case "/events":
            let filter = Spool.EventFilter(
                email: Spool.searchEmail(query["email"]), transactionID: query["tx"].flatMap { $0.isEmpty ? nil : $0 },
                from: query["from"].flatMap(ConsoleView.day), to: query["to"].flatMap(ConsoleView.day).map { $0 + 86_400_000 })
            let before = query["before"].flatMap(Spool.Cursor.init)
            let events = try spool.consoleEvents(filter, before: before, limit: ConsoleView.pageSize)
            return page(200, view.events(layout, events: events, query: query))
        case let event where event.hasPrefix("/events/"):
            guard let id = Int64(event.dropFirst("/events/".count)), let found = try spool.consoleEvent(id: id) else {
                return page(404, ConsoleView.message(title: "No such event", text: "It is not in the spool (purged after spool.retention, or never stored)."))
            }
            let deliveries = try spool.list(eventID: id).map { delivery in
                (delivery, try spool.heldBy(delivery, contactKey: found.event.contactKey))
            }
            return page(200, view.event(layout, event: found.event, json: found.json, deliveries: deliveries))
        case "/failures":
            let names = handlers.map(\.name)
            let handler = query["handler"].flatMap { names.contains($0) ? $0 : nil } ?? names.first ?? ""
            let state: DeliveryState = query["state"] == "failed" ? .failed : .dead
            let rows = try spool.list(state: state, handler: handler, before: query["before"].flatMap { Int64($0) }, limit: ConsoleView.pageSize)
            return page(200, view.failures(layout, handler: handler, handlers: names, state: state, rows: rows))
        case "/contact":
            guard let key = query["key"], key.utf8.count == 64, key.utf8.allSatisfy({ Hex.value($0) != nil }) else {
                return page(400, ConsoleView.message(title: "No contact", text: "The link names no contact key."))
            }
            let events = try spool.consoleEvents(Spool.EventFilter(contactKey: key), before: nil, limit: ConsoleView.contactEvents)
            var history = historyDatabase.flatMap { ConsoleFieldHistory.fromSQLite(path: $0, contactKey: key) }
            if history == nil {
                var stored: [(event: Spool.ConsoleEvent, json: String)] = []
                for event in events.reversed() {
                    if let found = try spool.consoleEvent(id: event.id) { stored.append(found) }
                }
                history = ConsoleFieldHistory.fromSpool(stored)
            }
            return page(200, view.contact(layout, key: key, events: events, history: history ?? ConsoleFieldHistory.fromSpool([])))
        default:
            return page(404, ConsoleView.message(title: "Not found", text: "The console has no page here."))
        }
    }

    private func post(
        _ route: String, form: ConsoleForm, token: String, session: ConsoleSessions.Session, address: String, secure: Bool, view: ConsoleView
    ) throws -> Response {
        switch route {
        case "/logout":
            try sessions.end(token: token)
            log(.info, "console logout", address: address, ["user": .string(session.user)])
            return redirect(to: configuration.path + "/login", cookies: [cookie(Self.sessionCookie, "", secure: secure, maxAge: 0)])
        case "/retry", "/purge":
            let purge = route == "/purge"
            guard let handler = form["handler"], handlers.contains(where: { $0.name == handler }) else {
                return page(400, ConsoleView.message(title: "No such handler", text: "The form names no configured handler."))
            }
            let ids = form.all("event").compactMap { Int64($0) }
            guard !ids.isEmpty, ids.count <= ConsoleView.pageSize else {
                return page(400, ConsoleView.message(title: "Nothing chosen", text: "The form names no event (at most \(ConsoleView.pageSize) at once)."))
            }
            // Where to go afterwards is rebuilt here from a word, never taken as a URL.
            let from = ConsoleView.ReturnPage(rawValue: form["from"] ?? "") ?? .dead
            let back = view.url(of: from, handler: handler, event: ids[0])
            guard form["confirm"] == "yes" else {
                return page(200, view.confirm(ConsoleView.Layout(user: session.user, csrf: session.csrf), purge: purge, handler: handler, ids: ids, from: from))
            }
            let count = purge ? try spool.purgeDead(eventIDs: ids, handler: handler) : try spool.retry(eventIDs: ids, handler: handler)
            log(.info, purge ? "console purge" : "console retry", address: address,
                ["user": .string(session.user), "handler": .string(handler), "deliveries": .stringConvertible(count)])
            return redirect(to: back)
        default:
            return page(404, ConsoleView.message(title: "Not found", text: "The console has no action here."))
        }
    }

    // MARK: - Logging in

    private func loginForm(view: ConsoleView, secure: Bool, status: Int, note: String?, headers: [Response.Header] = []) -> Response {
        let nonce = ConsoleSessions.randomToken()
        var response = page(status, view.login(nonce: nonce, note: note))
        response.headers += headers + [cookie(Self.loginCookie, nonce, secure: secure)]
        return response
    }

    private func login(_ request: Request, client: ClientAddress?, address: String, secure: Bool, view: ConsoleView) throws -> Response {
        let form = ConsoleForm(body: request.body)
        let user = form["user"] ?? ""
        // A name that is not a user may be a password typed in the wrong field: not logged.
        let shown: Logger.MetadataValue = .string(configuration.users[user] == nil ? "(unknown)" : user)
        guard Self.sameOrigin(request) else {
            log(.warning, "console login refused", address: address, ["reason": "the Origin header names another site", "origin": .string(String((request.header("Origin") ?? "").prefix(200)))])
            return loginForm(view: view, secure: secure, status: 403, note: "The login form came from another site; log in here.")
        }
        guard let nonce = Self.cookie(Self.loginCookie, in: request), let sent = form["nonce"], Self.constantTimeEqual(nonce, sent) else {
            log(.warning, "console login refused", address: address, ["reason": "the form did not come from this browser's login page"])
            return loginForm(view: view, secure: secure, status: 403, note: "The login form expired; log in again.")
        }
        // At most `loginSlots` argon2id runs at once (64 MiB each), across threads and CGI
        // processes; the rest are told to retry at once, at no cost.
        guard let slot = try loginSlot() else {
            log(.warning, "console login refused", address: address, ["user": shown, "reason": "other logins are being checked"])
            return loginForm(view: view, secure: secure, status: 503, note: "The console is busy checking other logins; try again in a moment.",
                             headers: [Response.Header("Retry-After", "1")])
        }
        defer { slot.unlock() }
        // With allow_from, only trusted addresses reach this form: each is limited on its
        // own, and nobody else can lock a user out by failing in their name.
        let subjects = ConsoleSessions.subjects(address: client, text: address, user: user, countUser: configuration.allowFrom == nil)
        let admission = try sessions.admit(subjects: subjects)
        guard case .admitted(let pending) = admission else {
            var seconds: Int64 = 1
            if case .refused(let milliseconds) = admission { seconds = max(1, (milliseconds + 999) / 1000) }
            log(.warning, "console login refused", address: address, ["user": shown, "reason": "too many failed logins"])
            return loginForm(view: view, secure: secure, status: 429, note: "Too many failed logins; try again in \(seconds) s.",
                             headers: [Response.Header("Retry-After", String(seconds))])
        }
        // An unknown name costs the same argon2id run as a wrong password.
        let hash = configuration.users[user]
        let matches = PasswordHash.verify(form["password"] ?? "", against: hash ?? PasswordHash.decoy)
        guard matches, let hash else {
            log(.warning, "console login failed", address: address, ["user": shown])
            return loginForm(view: view, secure: secure, status: 401, note: "Wrong user name or password.")
        }
        try sessions.succeeded(pending)
        // A new token at every login, and the old one (if the browser had one) ended: a
        // token planted before the login is never promoted (session fixation).
        if let old = Self.cookie(Self.sessionCookie, in: request) { try sessions.end(token: old) }
        let created = try sessions.create(user: user, hash: hash)
        log(.info, "console login", address: address, ["user": .string(user)])
        return redirect(to: configuration.path + "/", cookies: [
            cookie(Self.sessionCookie, created.token, secure: secure), cookie(Self.loginCookie, "", secure: secure, maxAge: 0),
        ])
    }

    /// How many passwords may be checked at once per spool: argon2id takes 64 MiB each.
    static let loginSlots = 2

    /// One of the `loginSlots` (a `flock` on a file beside the spool), or nil when all are
    /// taken.
    private func loginSlot() throws -> FileLock? {
        for slot in 0..<Self.loginSlots {
            if let lock = try FileLock.tryLock(spool.configuration.path + "-console-login.\(slot)") { return lock }
        }
        return nil
    }

    // MARK: - HTTP details

    /// Headers on every console answer: no script, no framing, no sniffing, no referrer to
    /// other sites. (`same-origin`, not `no-referrer`: under `no-referrer` a browser sends
    /// `Origin: null` with the console's own forms, which `sameOrigin` refuses.)
    static let securityHeaders = [
        Response.Header("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
        Response.Header("X-Content-Type-Options", "nosniff"),
        Response.Header("X-Frame-Options", "DENY"),
        Response.Header("Referrer-Policy", "same-origin"),
    ]

    private func page(_ status: Int, _ html: HTML) -> Response {
        Response(status: status, body: Array(html.text.utf8), contentType: "text/html; charset=utf-8", headers: Self.securityHeaders)
    }

    private func redirect(to location: String, cookies: [Response.Header] = []) -> Response {
        Response(status: 303, body: [], contentType: "text/plain", headers: Self.securityHeaders + [Response.Header("Location", location)] + cookies)
    }

    /// `Set-Cookie` for the console's path: `HttpOnly`, `SameSite=Strict`, and `Secure`
    /// whenever the request came over https (nginx's and Apache's `HTTPS=on`).
    private func cookie(_ name: String, _ value: String, secure: Bool, maxAge: Int? = nil) -> Response.Header {
        var text = "\(name)=\(value); Path=\(configuration.path); HttpOnly; SameSite=Strict"
        if let maxAge { text += "; Max-Age=\(maxAge)" }
        if secure { text += "; Secure" }
        return Response.Header("Set-Cookie", text)
    }

    /// True when the web server says the request came over https (`HTTPS=on`, as nginx's
    /// `fastcgi_params` and Apache set it, or `REQUEST_SCHEME=https`).
    static func isHTTPS(_ request: Request) -> Bool {
        let https = request.params["HTTPS"]?.lowercased()
        return https == "on" || https == "1" || request.params["REQUEST_SCHEME"]?.lowercased() == "https"
    }

    /// The value of cookie `name` in the request's `Cookie` header; nil when it is absent
    /// or sent twice (a cookie planted for a wider path or a parent domain beside ours:
    /// which one is ours can't be told, so neither is used).
    static func cookie(_ name: String, in request: Request) -> String? {
        guard let header = request.header("Cookie") else { return nil }
        var found: String? = nil
        for pair in header.split(separator: ";") {
            let trimmed = pair.drop { $0 == " " }
            guard let equals = trimmed.firstIndex(of: "="), trimmed[..<equals] == name else { continue }
            if found != nil { return nil }
            found = String(trimmed[trimmed.index(after: equals)...])
        }
        return found
    }

    /// False when the browser says the POST came from another site: an `Origin` whose host
    /// is not the `Host`, or the opaque `null` of a sandboxed or `data:` page (a second fence
    /// behind the CSRF token and `SameSite=Strict`). No `Origin` at all passes: older
    /// browsers send none on same-origin POSTs.
    static func sameOrigin(_ request: Request) -> Bool {
        guard let origin = request.header("Origin") else { return true }
        guard let host = request.header("Host") else { return false }
        let stripped = origin.hasPrefix("https://") ? origin.dropFirst(8) : origin.hasPrefix("http://") ? origin.dropFirst(7) : Substring(origin)
        return stripped == host
    }

    /// Compares two tokens in time that depends on their length only.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let left = Array(a.utf8), right = Array(b.utf8)
        guard left.count == right.count else { return false }
        var difference: UInt8 = 0
        for index in left.indices { difference |= left[index] ^ right[index] }
        return difference == 0
    }

    private func log(_ level: Logger.Level, _ message: Logger.Message, address: String, _ metadata: Logger.Metadata) {
        var metadata = metadata
        metadata["remote_addr"] = .string(address)
        logger.log(level: level, message, metadata: metadata)
    }
}
