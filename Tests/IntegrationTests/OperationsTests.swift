import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Operating a running listener behind nginx. SIGHUP under load
/// (with config changes and a bad config), and the status page's numbers.
@Suite("Operations")
struct OperationsTests {
    /// The jsonl handlers of the reload test: `main` always, `copy` when `withCopy`.
    static func reloadConfig(_ directory: TestDirectory, withCopy: Bool) -> String {
        var yaml = """
            threads: 4
            handlers:
              - type: jsonl
                name: main
                path: \(directory.file("main.jsonl"))

            """
        if withCopy {
            yaml += """
                  - type: jsonl
                    name: copy
                    path: \(directory.file("copy.jsonl"))

                """
        }
        return yaml
    }

    @Test("SIGHUP under load: every 200 is stored, no request fails, config changes apply; a bad config is refused",
          .timeLimit(.minutes(3)))
    func reloadUnderLoad() async throws {
        let bench = try TestBench("ops-hup")
        defer { bench.tearDown() }
        let directory = bench.directory
        let stack = try await bench.stack(config: Self.reloadConfig(directory, withCopy: false))
        let listener = stack.listener

        // 4 clients POST in batches (one curl process per batch of 20) until the reloads
        // are done; meanwhile SIGHUP 6 times, switching between one and two handlers.
        let done = SpoolFlag()
        let reloads = 6
        let hups = Task.detached { () throws -> Void in
            try await pause(0.3)
            for round in 1...reloads {
                try writeAtomically(stack.configPath, spoolSocketGroupLine + Self.reloadConfig(directory, withCopy: round % 2 == 1))
                listener.process.send(SIGHUP)
                try await pause(0.35)
            }
            try await pause(0.3)
            done.set()
        }
        let clients = 4
        let results = try await concurrently(clients) { client -> [(id: String, status: Int)] in
            var all: [(id: String, status: Int)] = []
            var batch = 0
            // Bounded: at most 40 batches (800 requests) per client, and ~5 s of reloads.
            while !done.isSet && batch < 40 {
                let forms = (0..<20).map { index -> (id: String, body: String) in
                    let id = "hup-\(client)-\(batch)-\(index)"
                    return (id, contactForm(id, email: "c\(client)@example.com"))
                }
                all += try stack.client.sendBatchBlocking(forms)
                batch += 1
            }
            return all
        }
        try await hups.value
        let answers = results.flatMap { $0 }
        print("SIGHUP under load: \(answers.count) POSTs from \(clients) clients across \(reloads) reloads")
        let log = listener.log
        let reloaded = log.split(separator: "\n").filter { $0.contains("info reloaded") }.count
        #expect(reloaded == reloads, "expected \(reloads) reloads in the log, saw \(reloaded)\n\(log.suffix(3000))")
        #expect(answers.count >= 200, "too little load to mean anything: \(answers.count) requests")
        let failed = answers.filter { $0.status != 200 }
        #expect(failed.isEmpty, "\(failed.count) of \(answers.count) requests failed during the reloads: \(failed.prefix(10))\n\(stack.nginx.diagnostics())")

        // Every 200 is in main.jsonl, exactly once; nothing else is.
        let main = JSONLines(path: directory.file("main.jsonl"))
        #expect(main.broken.isEmpty, "torn lines: \(main.broken.prefix(3))")
        let counts = main.countsByTransaction
        let accepted = Set(answers.filter { $0.status == 200 }.map(\.id))
        let missing = accepted.filter { counts[$0] == nil }
        #expect(missing.isEmpty, "\(missing.count) answered 200 but are not stored: \(missing.sorted().prefix(10))")
        #expect(counts.values.allSatisfy { $0 == 1 }, "stored twice: \(counts.filter { $0.value > 1 }.prefix(10))")
        #expect(Set(counts.keys) == accepted, "stored but never answered 200: \(Set(counts.keys).subtracting(accepted).prefix(10))")
        // The second handler took events only while a config with it was in force, and then
        // only events that main has too.
        let copy = JSONLines(path: directory.file("copy.jsonl"))
        #expect(!copy.objects.isEmpty, "the reloads that added the `copy` handler never applied")
        #expect(copy.objects.count < main.objects.count, "copy has \(copy.objects.count), main \(main.objects.count)")
        #expect(Set(copy.countsByTransaction.keys).isSubset(of: accepted))

        // The last good config (round 6: main only) is in force; now a bad one: refused, the
        // running one stays and keeps storing.
        try writeAtomically(stack.configPath, spoolSocketGroupLine + Self.reloadConfig(directory, withCopy: true))
        listener.process.send(SIGHUP)
        let appliedCopy = try await offload {
            poll(timeout: 60) { listener.log.split(separator: "\n").filter { $0.contains("info reloaded") }.count == reloads + 1 }
        }
        #expect(appliedCopy, "the 7th reload did not apply: \(listener.log.suffix(2000))")
        for (round, bad) in ["handlers:\n  - type: no-such-handler\n", "limits: { max_vars: lots\n"].enumerated() {
            try writeAtomically(stack.configPath, spoolSocketGroupLine + bad)
            listener.process.send(SIGHUP)
            let refused = try await offload {
                poll(timeout: 60) { listener.log.components(separatedBy: "reload refused").count - 1 == round + 1 }
            }
            #expect(refused, "no 'reload refused' for bad config \(round + 1): \(listener.log.suffix(2000))")
            let id = "after-bad-config-\(round)"
            let response = try await stack.post(contactForm(id))
            #expect(response.status == 200, "\(response)\n\(listener.process.diagnostics())")
            // Both handlers of the last good config still take every event.
            #expect(JSONLines(path: directory.file("main.jsonl")).countsByTransaction[id] == 1)
            #expect(JSONLines(path: directory.file("copy.jsonl")).countsByTransaction[id] == 1)
        }
        #expect(listener.process.isRunning)
        _ = try await stack.nginx.process.stopAsync()
        #expect(try await listener.process.stopAsync() == .exited(0), "\(listener.process.diagnostics())")
    }

    /// `serve` on a unix socket behind deploy/nginx/contact-listener.conf (which routes
    /// /contact-listener and /contact-listener/…), with `status_path`, a token and a jsonl
    /// handler; `extra` adds top-level config lines. Stop both from `defer`s.
    static func startBehindRecipe(
        in directory: TestDirectory, extra: String = ""
    ) async throws -> (listener: ChildProcess, nginx: NginxSite, token: String) {
        let token = randomHex(16)
        let socket = "\(try directory.folder("run"))/listener.sock"
        let configPath = try directory.write("contact-listener.yaml", """
            listen: "unix:\(socket)"
            \(WebServerUser.socketGroupLine)status_path: /contact-listener/status
            \(extra)
            verify:
              token: "\(token)"
            handlers:
              - type: jsonl
                path: \(directory.file("events.jsonl"))

            """)
        let listener = try await startServe(in: directory, configPath: configPath, socketPath: socket)
        do {
            let site = try DeployRecipe.render("nginx/contact-listener.conf", [("/run/contact-listener/listener.sock", socket)])
            return (listener, try await NginxSite.start(in: directory, serverBody: site), token)
        } catch {
            listener.stop()
            throw error
        }
    }

    @Test("the status page's numbers match the requests sent (json, prometheus, html), token required; ping answers",
          .timeLimit(.minutes(2)))
    func statusPage() async throws {
        let bench = try TestBench("ops-status")
        defer { bench.tearDown() }
        let directory = bench.directory
        let (listener, nginx, token) = try await Self.startBehindRecipe(in: directory, extra: """
            ping_path: /contact-listener/ping
            limits:
              max_body_bytes: 4096
            """)
        defer { listener.stop() }
        defer { nginx.stop() }
        let hook = "\(nginx.url)/contact-listener"
        func post(_ query: String, _ body: String) async throws -> HTTPResponse {
            try await curlRequest("\(hook)\(query)", method: "POST", body: body, contentType: "application/x-www-form-urlencoded", in: directory)
        }

        // N = 5 stored, M = 4 refused by the listener (401, 403, 400, 413).
        let ok = 5
        for index in 0..<ok {
            let response = try await post("?token=\(token)", contactForm("status-\(index)"))
            #expect(response.status == 200, "\(response)")
        }
        var refusals: [Int] = []
        refusals.append(try await post("", contactForm("no-token")).status)
        refusals.append(try await post("?token=wrong", contactForm("wrong-token")).status)
        refusals.append(try await post("?token=\(token)", "transactionid=bad&fields=abc").status)
        refusals.append(try await post("?token=\(token)", Fixtures.largeForm(size: 10_000, transactionID: "too-big")).status)
        #expect(refusals == [401, 403, 400, 413])

        let statusURL = "\(nginx.url)/contact-listener/status"
        let json = try await curlRequest("\(statusURL)?json&token=\(token)", in: directory)
        #expect(json.status == 200, "\(json)\n\(nginx.diagnostics())")
        let object = try json.json()
        let requests = object["requests"] as? [String: Any] ?? [:]
        let byStatus = requests.mapValues { ($0 as? NSNumber)?.intValue ?? -1 }
        #expect(byStatus == ["200": ok, "401": 1, "403": 1, "400": 1, "413": 1], "\(json.body)")
        #expect((object["accepted_requests"] as? NSNumber)?.intValue == ok + 4, "\(json.body)")
        #expect((object["in_flight"] as? NSNumber)?.intValue == 0, "\(json.body)")
        #expect(((object["threads"] as? [String: Any])?["busy"] as? NSNumber)?.intValue == 0, "\(json.body)")
        #expect((object["last_errors"] as? [Any])?.count == 4, "\(json.body)")

        let prometheus = try await curlRequest("\(statusURL)?prometheus&token=\(token)", in: directory)
        #expect(prometheus.status == 200, "\(prometheus)")
        let metrics = prometheus.body.split(separator: "\n").map(String.init)
        #expect(metrics.contains("contact_listener_requests_total{status=\"200\"} \(ok)"), "\(prometheus.body)")
        #expect(metrics.contains("contact_listener_requests_total{status=\"401\"} 1"), "\(prometheus.body)")
        #expect(metrics.contains("contact_listener_in_flight 0"), "\(prometheus.body)")

        let html = try await curlRequest("\(statusURL)?html&token=\(token)", in: directory)
        #expect(html.status == 200 && html.headers["content-type"]?.hasPrefix("text/html") == true, "\(html)")
        #expect(html.body.contains("<h1>contact-listener</h1>") && html.body.contains("<td>answered 200</td><td>\(ok)</td>"), "\(html.body)")

        // The page is the listener's, behind its verify rules.
        let anonymous = try await curlRequest(statusURL, in: directory)
        #expect(anonymous.status == 401, "\(anonymous)")
        let wrong = try await curlRequest("\(statusURL)?token=wrong", in: directory)
        #expect(wrong.status == 403, "\(wrong)")
        #expect(!anonymous.body.contains("requests") && !wrong.body.contains("\"200\""))
        let ping = try await curlRequest("\(nginx.url)/contact-listener/ping", in: directory)
        #expect(ping.status == 200 && ping.body == "pong\n", "\(ping)")

        // Reading the page is not a request to the listener: the numbers stay.
        let again = try await curlRequest("\(statusURL)?token=\(token)", in: directory).json()
        let againByStatus = (again["requests"] as? [String: Any] ?? [:]).mapValues { ($0 as? NSNumber)?.intValue ?? -1 }
        #expect(againByStatus == byStatus, "\(again)")
        #expect(JSONLines(path: directory.file("events.jsonl")).objects.count == ok)

        try await nginx.stopAsync()
        #expect(try await listener.stopAsync() == .exited(0), "\(listener.diagnostics())")
    }

    @Test("the status page's numbers (and start time) survive a SIGHUP reload", .timeLimit(.minutes(2)))
    func statusSurvivesReload() async throws {
        let bench = try TestBench("ops-status-hup")
        defer { bench.tearDown() }
        let directory = bench.directory
        let (listener, nginx, token) = try await Self.startBehindRecipe(in: directory)
        defer { listener.stop() }
        defer { nginx.stop() }
        for index in 0..<3 {
            let response = try await curlRequest("\(nginx.url)/contact-listener?token=\(token)", method: "POST",
                                                 body: contactForm("before-hup-\(index)"),
                                                 contentType: "application/x-www-form-urlencoded", in: directory)
            #expect(response.status == 200, "\(response)")
        }
        let statusURL = "\(nginx.url)/contact-listener/status"
        let before = try await curlRequest("\(statusURL)?json&token=\(token)", in: directory).json()
        #expect((before["requests"] as? [String: Any])?["200"] as? Int == 3, "\(before)")

        // The same config, re-read: the process, its uptime and its counters go on.
        listener.send(SIGHUP)
        let reloaded = try await offload { poll(timeout: 60) { listener.stderr.contains("info reloaded") } }
        try #require(reloaded, "\(listener.diagnostics())")
        let after = try await curlRequest("\(statusURL)?json&token=\(token)", in: directory).json()
        #expect(after["started_at"] as? String == before["started_at"] as? String,
                "SIGHUP restarted the status page's clock: before \(before), after \(after)")
        #expect((after["requests"] as? [String: Any])?["200"] as? Int == 3,
                "SIGHUP reset the answered-request counts: before \(before), after \(after)")
        let prometheus = try await curlRequest("\(statusURL)?prometheus&token=\(token)", in: directory)
        #expect(prometheus.body.split(separator: "\n").contains("contact_listener_requests_total{status=\"200\"} 3"),
                "after SIGHUP: \(prometheus.body)")
    }
}
