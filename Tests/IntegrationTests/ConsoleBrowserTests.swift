import Foundation
import Testing

/// The console through the real binary: in headless Chromium behind nginx (FastCGI), and as
/// a CGI script. The user's hash comes from `contact-listener console passwd`.
@Suite("console: the operator's pages in a real browser, and under CGI")
struct ConsoleBrowserTests {
    static let password = "a long console password"

    /// The `console:` section for `password`, its hash made by the binary itself.
    static func consoleSection(in directory: TestDirectory) throws -> String {
        let binary = try ListenerBinary.path()
        let made = try runCommand(
            ["-c", "printf '%s\\n' \"$0\" | \"$1\" console passwd admin", password, binary], in: directory, executable: "/bin/sh")
        let line = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard made.exit == ExitStatus.exited(0), line.hasPrefix("admin: \"$argon2id$") else { throw TestFailure("console passwd: \(made)") }
        #expect(!made.stdout.contains(password) && !made.stderr.contains(password), "console passwd printed the password")
        return "console:\n  path: /console\n  users:\n    \(line)\n"
    }

    @Test("log in, find a contact by email, open its event, retry its dead letter and see it delivered, log out; CSRF refused")
    func browserFlows() async throws {
        let bench = try TestBench("console-browser")
        defer { bench.tearDown() }
        // The CRM refuses Ann's event for good (a dead letter) until the test changes its plan.
        let recorder = try await bench.recorder(plan: """
            {"bodies": [{"contains": "tx-console-ann", "steps": [{"status": 422}]}], "steps": [{"status": 200}]}
            """)
        // A SQLite handler too: the contact page reads its contact_field_history.
        let config = TestBench.spoolConfig(handlers: recorder.crmHandler() + "  - type: sqlite\n    path: contacts.db\n")
            + (try Self.consoleSection(in: bench.directory))
        let stack = try await bench.stack(config: config)
        try await stack.postAccepted(contactForm("tx-console-ann", email: "ann@example.com"))
        try await stack.postAccepted(contactForm("tx-console-bob", email: "bob@example.com"))
        _ = try await stack.cli.waitForRows(state: "dead", handler: "crm", "Ann's dead letter") { $0.count == 1 }
        // Her next event goes on past the dead letter, and changes her first name.
        try await stack.postAccepted(contactForm("tx-console-second", email: "ann@example.com", firstName: "Annie"))
        _ = try await stack.cli.waitForRows(state: "delivered", handler: "crm", "Ann's second event") { rows in
            rows.contains { $0["transactionid"] as? String == "tx-console-second" }
        }
        try recorder.setPlan(#"{"steps": [{"status": 200}]}"#)

        // CONSOLE_SCREENSHOTS=docs/console keeps them (the README's come from there).
        let shots = try ProcessInfo.processInfo.environment["CONSOLE_SCREENSHOTS"] ?? bench.directory.folder("screenshots")
        let script = SpoolPaths.fixture("console_browser.py")
        let run = try await offload {
            try runCommand(
                [script, "http://127.0.0.1:\(stack.nginx.port)/console", "admin", Self.password, "ann@example.com", "tx-console-ann", "crm", shots],
                in: bench.directory, executable: try python3(), timeout: 240)
        }
        let checks = run.stdout.split(separator: "\n").compactMap { try? jsonObject(String($0)) }
        let passed = Set(checks.filter { $0["ok"] as? Bool == true }.compactMap { $0["check"] as? String })
        for name in [
            "no-session-redirects-to-login", "log-in", "find-contact-by-email", "open-event", "contact-page",
            "post-without-csrf-token-refused", "cross-site-post-refused", "refused-posts-changed-nothing",
            "retry-asks-first", "retried-dead-letter-delivered", "log-out", "after-logout-redirects-to-login",
        ] {
            #expect(passed.contains(name), "\(name) did not pass: \(run)")
        }
        #expect(run.exit == ExitStatus.exited(0), "\(run)")
        // The retried event reached the CRM; the refused POSTs did not retry it earlier.
        let ann = try recorder.requests().filter { $0.transactionID == "tx-console-ann" }
        #expect(ann.map(\.status) == [422, 200], "\(ann)")
        let log = stack.listener.log
        #expect(log.contains("console login") && log.contains("user=admin") && log.contains("console logout") && log.contains("console retry"), "\(log.suffix(2000))")
        #expect(!log.contains(Self.password))
    }

    @Test("under CGI the console works the same: sessions live in the spool, not in a process")
    func cgi() throws {
        let directory = try TestDirectory("console-cgi")
        defer { directory.remove() }
        let config = try directory.write("listener.yaml", TestBench.spoolConfig() + (try Self.consoleSection(in: directory)))
        func request(_ method: String, _ path: String, cookie: String? = nil, body: String = "") throws -> CGIRun {
            var environment = ["REQUEST_URI": path, "HTTP_HOST": "localhost"]
            if let cookie { environment["HTTP_COOKIE"] = cookie }
            return try runCGIRequest(in: directory, configPath: config, body: Array(body.utf8), method: method, extraEnvironment: environment)
        }
        func cookie(_ name: String, in run: CGIRun) -> String? {
            run.headers.first { $0.hasPrefix("Set-Cookie: \(name)=") }.map { String($0.dropFirst("Set-Cookie: \(name)=".count).prefix { $0 != ";" }) }
        }
        let first = try request("GET", "/console/")
        #expect(first.status == 303 && first.headers.contains("Location: /console/login"), "\(first)")
        let form = try request("GET", "/console/login")
        let nonce = try #require(cookie("cl_console_login", in: form), "\(form)")
        let login = try request("POST", "/console/login", cookie: "cl_console_login=\(nonce)",
                                body: "nonce=\(nonce)&user=admin&password=\(Self.password.replacingOccurrences(of: " ", with: "+"))")
        let session = try #require(cookie("cl_console", in: login), "\(login)")
        // Another process, the same session.
        let overview = try request("GET", "/console/", cookie: "cl_console=\(session)")
        #expect(overview.status == 200 && overview.body.contains("<h1>Overview</h1>") && overview.body.contains("CGI"), "\(overview)")
        let csp = overview.headers.first { $0.hasPrefix("Content-Security-Policy:") } ?? ""
        #expect(csp.contains("default-src 'none'"))
    }
}
