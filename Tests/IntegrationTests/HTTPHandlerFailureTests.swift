import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `type: http` when the CRM answers badly: a redirect is never followed (the event stays
/// undelivered and the error names the `Location`), a huge answer is read only up to the
/// cap, and no error shows the URL's credentials or query.
@Suite("http handler: failures")
struct HTTPHandlerFailureTests {
    /// One redirecting handler: the path it posts to, the answer, where the answer points,
    /// and whether the delivery is a dead letter at once (else it waits for its retry).
    struct RedirectCase: Sendable, CustomStringConvertible {
        var path: String
        var status: Int
        /// `{recorder}` and `{other}` stand for the two recorders' base URLs.
        var location: String
        var dead: Bool
        var description: String { "\(status) \(path)" }
    }

    static let redirects: [RedirectCase] = [
        RedirectCase(path: "/r301", status: 301, location: "{recorder}/r301/?key=LOCATION-SECRET", dead: true),
        RedirectCase(path: "/r302", status: 302, location: "/r302/", dead: false),
        RedirectCase(path: "/r303", status: 303, location: "{recorder}/r303/", dead: true),
        RedirectCase(path: "/r307", status: 307, location: "{other}/r307", dead: false),
        RedirectCase(path: "/r308", status: 308, location: "{recorder}/r308/", dead: true),
    ]

    /// A spooling listener with `handlers` (YAML list items) whose failed deliveries wait an
    /// hour for their retry, so a test sees exactly one attempt of each.
    static func startStack(_ bench: TestBench, handlers: String, environment: [String: String] = [:]) async throws -> SpoolStack {
        try await bench.stack(config: TestBench.spoolConfig(retry: "[1h]", jsonl: false, handlers: handlers), environment: environment)
    }

    /// Waits until each of `count` deliveries was attempted (or delivered); returns the rows.
    static func attempted(_ count: Int, in stack: SpoolStack) async throws -> [[String: Any]] {
        try await stack.cli.waitForRows(timeout: 60, "\(count) deliveries attempted") { rows in
            rows.count == count && rows.allSatisfy { ($0["attempts"] as? Int ?? 0) >= 1 || $0["state"] as? String == "delivered" }
        }
    }

    @Test("a redirect is never followed: not delivered, no GET, no request to another origin, the error names the Location")
    func redirectsAreFailures() async throws {
        let bench = try TestBench("http-redirect")
        defer { bench.tearDown() }
        let other = try await bench.recorder(name: "other")
        let recorder = try await bench.recorder()
        func expand(_ location: String) -> String {
            location.replacingOccurrences(of: "{recorder}", with: recorder.url).replacingOccurrences(of: "{other}", with: other.url)
        }
        var paths: [String: Any] = [:]
        for redirect in Self.redirects {
            paths[redirect.path] = [["status": redirect.status, "headers": ["Location": expand(redirect.location)]]]
        }
        let plan = try JSONSerialization.data(withJSONObject: ["paths": paths, "steps": [["status": 200]]])
        try recorder.setPlan(String(decoding: plan, as: UTF8.self))

        let handlers = Self.redirects.map { redirect in
            """
              - type: http
                name: h\(redirect.status)
                url: "\(recorder.url)\(redirect.path)"
                headers:
                  Authorization: "Bearer redirect-token"

            """
        }.joined()
        let stack = try await Self.startStack(bench, handlers: handlers)
        try await stack.postAccepted(contactForm("tx-redirect"))

        let rows = try await Self.attempted(Self.redirects.count, in: stack)
        for redirect in Self.redirects {
            let row = try #require(rows.first { $0["handler"] as? String == "h\(redirect.status)" }, "\(redirect): \(rows)")
            let error = row["last_error"] as? String ?? ""
            #expect(row["state"] as? String == (redirect.dead ? "dead" : "failed"), "\(redirect): \(row)")
            let shown = expand(redirect.location).replacingOccurrences(of: "?key=LOCATION-SECRET", with: "")
            #expect(error.contains("\(redirect.status)") && error.contains(shown), "\(redirect): the error names the Location: \(error)")
            #expect(!error.contains("LOCATION-SECRET"), "\(redirect): the Location's query is not shown: \(error)")
        }
        let requests = try recorder.requests()
        #expect(requests.allSatisfy { $0.method == "POST" }, "no method was changed: \(requests)")
        #expect(requests.count == Self.redirects.count, "one attempt each, nothing followed: \(requests)")
        #expect(try other.requests().isEmpty, "the other origin got nothing (the token stays home)")
        #expect(!stack.listener.log.contains("LOCATION-SECRET"))
    }

    @Test("a multi-megabyte answer is read only up to the cap: memory stays flat, last_error holds a bounded excerpt")
    func hugeAnswersAreCapped() async throws {
        let bench = try TestBench("http-huge")
        defer { bench.tearDown() }
        let megabytes = 48
        // The delay holds each answer back until the baseline below is taken.
        let recorder = try await bench.recorder(plan: """
            {"delay": 1,
             "paths": {"/bad": [{"status": 400, "body_size": \(megabytes << 20)}],
                       "/busy": [{"status": 503, "body_size": \(megabytes << 20)}],
                       "/ok": [{"status": 200, "body_size": \(megabytes << 20)}]}}
            """)
        let handlers = ["bad", "busy", "ok"].map { name in
            """
              - type: http
                name: \(name)
                url: "\(recorder.url)/\(name)"

            """
        }.joined()
        let stack = try await Self.startStack(bench, handlers: handlers)
        try await stack.postAccepted(contactForm("tx-huge-answer"))
        let baseline = try ProcessMemory(pid: stack.listener.process.pid)

        let rows = try await Self.attempted(3, in: stack)
        let after = try ProcessMemory(pid: stack.listener.process.pid)
        let states = Dictionary(uniqueKeysWithValues: rows.map { ($0["handler"] as? String ?? "?", $0["state"] as? String ?? "?") })
        #expect(states == ["bad": "dead", "busy": "failed", "ok": "delivered"], "\(rows)")
        for row in rows where row["state"] as? String != "delivered" {
            let error = row["last_error"] as? String ?? ""
            #expect(error.contains("xxxxxxxx"), "an excerpt of the answer: \(error.prefix(300))")
            #expect(error.utf8.count <= 2048 + 256, "the excerpt is capped: \(error.utf8.count) bytes")
        }
        // Reading one answer whole would add at least 48 MiB; allow 16 MiB of noise.
        #expect(after.hwmKiB - baseline.hwmKiB < 16 * 1024, "VmHWM jumped: before \(baseline), after \(after)")
    }

    @Test("the URL's user:password and ?key= appear in no log line, spool output or status page")
    func secretsStayOutOfErrors() async throws {
        let bench = try TestBench("http-secret")
        defer { bench.tearDown() }
        let directory = bench.directory
        let recorder = try await bench.recorder(plan: """
            {"paths": {"/v1/contacts": [{"status": 500, "body": "upstream broke"}],
                       "/v1/echo": [{"status": 401, "body": "bad key QUERY-SECRET-123 for user-secret (Bearer HEADER-SECRET-456)"}]}}
            """)
        let secrets = ["user-secret", "PASSWORD-SECRET", "QUERY-SECRET-123", "FRAGMENT-SECRET", "HEADER-SECRET-456"]
        let base = "http://user-secret:PASSWORD-SECRET@127.0.0.1:\(recorder.port)"
        let handlers = """
              - type: http
                name: crm
                url: "${CRM_URL}/v1/contacts?key=QUERY-SECRET-123#FRAGMENT-SECRET"
              - type: http
                name: echo
                url: "${CRM_URL}/v1/echo?key=QUERY-SECRET-123"
                headers:
                  Authorization: "Bearer HEADER-SECRET-456"

            """
        let environment = ["CRM_URL": base]

        // With a spool: last_error, the log, `spool list` and `spool show`.
        let stack = try await Self.startStack(bench, handlers: handlers, environment: environment)
        try await stack.postAccepted(contactForm("tx-secret"))
        let rows = try await Self.attempted(2, in: stack)
        let listResult = try stack.cli.run(["spool", "list", "--json"])
        let showResult = try stack.cli.run(["spool", "show", String(rowID(rows[0])), "--json"])
        let textResult = try stack.cli.run(["spool", "list"])
        let crm = try #require(rows.first { $0["handler"] as? String == "crm" })
        #expect((crm["last_error"] as? String ?? "").contains("http://127.0.0.1:\(recorder.port)/v1/contacts answered 500: upstream broke"),
                "the error names the redacted URL and keeps the answer: \(crm)")
        #expect(try recorder.requests(path: "/v1/contacts").allSatisfy { $0.header("Authorization") == nil },
                "the URL's user:password is never sent")
        let echo = try #require(rows.first { $0["handler"] as? String == "echo" })
        #expect((echo["last_error"] as? String ?? "").hasSuffix("answered 401: bad key [hidden] for [hidden] ([hidden])"),
                "an answer that echoes the URL's secrets is quoted without them: \(echo)")
        stack.stop()

        // Without a spool: the status page's last_errors.
        let token = "status-token"
        let socket = "\(try directory.folder("run"))/listener.sock"
        let configPath = try directory.write("direct.yaml", """
            listen: "unix:\(socket)"
            \(WebServerUser.socketGroupLine)status_path: /contact-listener/status
            verify:
              token: "\(token)"
            handlers:
            \(handlers)
            """)
        let listener = try await startServe(in: directory, configPath: configPath, socketPath: socket, environment: environment)
        defer { listener.stop() }
        let site = try DeployRecipe.render("nginx/contact-listener.conf", [("/run/contact-listener/listener.sock", socket)])
        let nginx = try await NginxSite.start(in: directory, serverBody: site)
        defer { nginx.stop() }
        let answer = try await curlRequest("\(nginx.url)/contact-listener?token=\(token)", method: "POST", body: contactForm("tx-secret-direct"),
                                           contentType: "application/x-www-form-urlencoded", in: directory)
        #expect(answer.status == 503, "\(answer)")
        let status = try await curlRequest("\(nginx.url)/contact-listener/status?json&token=\(token)", in: directory)
        #expect(status.status == 200 && status.body.contains("last_errors"), "\(status)")
        #expect(status.body.contains("127.0.0.1:\(recorder.port)/v1/"), "the status page names the redacted URL: \(status.body)")
        listener.stop()

        let outputs: [(String, String)] = [
            ("spool list --json", listResult.stdout), ("spool show --json", showResult.stdout), ("spool list", textResult.stdout),
            ("listener log (spool)", stack.listener.log), ("listener log (direct)", listener.stderr), ("status page", status.body),
        ]
        for (name, text) in outputs {
            #expect(!text.isEmpty, "\(name) printed something")
            for secret in secrets {
                #expect(!text.contains(secret), "\(name) shows \(secret):\n\(text.prefix(3000))")
            }
        }
    }
}
