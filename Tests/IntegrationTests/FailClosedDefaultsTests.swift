import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Defaults fail closed (SECURITY.md, "Defaults"): without a `verify:` rule only loopback
/// clients may store events, opening up is written out (`allow_from: any`) and
/// `check-config` says so, a sample config carries no usable secret, and a config that
/// would drop every event is refused.
@Suite("fail-closed defaults")
struct FailClosedDefaultsTests {
    /// (config's verify lines, REMOTE_ADDR, expected status).
    static let cases: [(String, String, Int)] = [
        ("", "203.0.113.9", 403),
        ("", "2001:db8::9", 403),
        ("", "127.0.0.1", 200),
        ("", "::1", 200),
        ("verify: { methods: [POST] }\n", "203.0.113.9", 403),
        ("verify: { allow_from: any }\n", "203.0.113.9", 200),
        ("verify: { allow_from: 203.0.113.0/24 }\n", "203.0.113.9", 200),
        ("verify: { token: t0k-default }\n", "203.0.113.9", 401),
    ]

    @Test("CGI without verify: loopback only, others 403 with the fix named; allow_from: any opens it", arguments: cases)
    func loopbackOnlyWithoutRules(verify: String, remote: String, status: Int) async throws {
        let directory = try TestDirectory("closed")
        defer { directory.remove() }
        let configPath = try directory.write("listener.yaml", verify + "handlers:\n  - type: jsonl\n    path: events.jsonl\n")
        let body = contactForm("tx-closed")
        var variables = cgiEnvironment(contentLength: String(body.utf8.count))
        variables["REMOTE_ADDR"] = remote
        let environment = variables
        let input = try directory.write("body", body)
        let run = try await offload {
            try runControlledCGI(in: directory, configPath: configPath, environment: environment, stdin: .file(input)).run
        }
        #expect(run.status == status, "\(verify)from \(remote): \(run)")
        if status == 403 {
            let error = (try? run.json())?["error"] as? String ?? ""
            #expect(error.contains("only this machine (loopback) may send") && error.contains("add verify.token"), "\(error)")
            #expect(run.stderr.contains("status=403"), "no log line for the refusal: \(run.stderr)")
        }
        let lines = JSONLines(path: directory.file("events.jsonl")).objects.count
        #expect(lines == (status == 200 ? 1 : 0), "\(lines) events stored")
    }

    @Test("no config at all (built-in defaults): a client off this machine gets 403 and nothing is stored")
    func builtInDefaultsAreClosed() async throws {
        let directory = try TestDirectory("closed-def")
        defer { directory.remove() }
        let body = contactForm("tx-defaults")
        let input = try directory.write("body", body)
        var environment = cgiEnvironment(contentLength: String(body.utf8.count))
        environment["REMOTE_ADDR"] = "198.51.100.7"
        let process = try ChildProcess(
            name: "cgi", executable: try ListenerBinary.path(), arguments: [], environment: childEnvironment(environment),
            directory: directory.path, stdin: .file(input), stdoutPath: directory.file("out"), stderrPath: directory.file("err"))
        let exit = try await process.waitForExitAsync(timeout: 60)
        #expect(exit == .exited(0), "\(process.diagnostics())")
        #expect(process.stdout.contains("Status: 403"), "\(process.stdout)")
        #expect(process.stdout.contains("only this machine (loopback) may send"), "\(process.stdout)")
        let spooled = pathExists(directory.file("data/spool.db"))
            ? try sqliteQuery(directory.file("data/spool.db"), "SELECT COUNT(*) FROM events", in: directory) : ["0"]
        #expect(spooled == ["0"], "an event from outside was stored under the built-in defaults")
    }

    /// (config, what check-config must say).
    static let checkCases: [(String, String)] = [
        ("handlers:\n  - type: jsonl\n    path: e.jsonl\n", "only loopback clients"),
        ("verify: { allow_from: any }\nhandlers:\n  - type: jsonl\n    path: e.jsonl\n", "OPEN: allow_from admits every address"),
        ("verify: { allow_from: any, token: t0k }\nhandlers:\n  - type: jsonl\n    path: e.jsonl\n", "token: 1 accepted"),
    ]

    @Test("check-config says who may send", arguments: checkCases)
    func checkConfigSaysWhoMaySend(yaml: String, says: String) throws {
        let directory = try TestDirectory("closed-chk")
        defer { directory.remove() }
        let configPath = try directory.write("listener.yaml", yaml)
        let result = try runCommand(["check-config", "--config", configPath], in: directory)
        #expect(result.exit == .exited(0), "\(result)")
        #expect(result.stdout.contains(says), "\(result.stdout)")
        if !yaml.contains("token") && yaml.contains("any") { #expect(!result.stdout.contains("only loopback")) }
    }

    /// (config, the `FILE:LINE: KEY: ` prefix and words of the error).
    static let refusedConfigs: [(String, String, String)] = [
        ("handlers: []\n", "listener.yaml:1: handlers:", "acknowledge every event and drop it"),
        ("verify:\n  token: \"${LISTENER_TOKEN}\"\n", "listener.yaml:2: verify.token:", "environment variable LISTENER_TOKEN is not set"),
        ("verify: { allow_from: [] }\n", "listener.yaml:1: verify.allow_from:", "write `any`"),
        ("spool: data/spool.db\ndedup: { path: x.db }\n", "listener.yaml:2: dedup:", "the spool recognises replays itself"),
    ]

    @Test("configs that would drop events or carry no secret are refused with FILE:LINE: KEY", arguments: refusedConfigs)
    func refusedConfig(yaml: String, prefix: String, words: String) throws {
        let directory = try TestDirectory("closed-bad")
        defer { directory.remove() }
        let configPath = try directory.write("listener.yaml", yaml)
        let result = try runCommand(["check-config", "--config", configPath], in: directory)
        #expect(result.exit == .exited(78), "\(result)")
        #expect(result.stderr.contains("\(directory.path)/\(prefix)") && result.stderr.contains(words), "\(result.stderr)")
    }

    @Test("deploy/shared-hosting/contact-listener.yaml as shipped: no usable token, so a CGI request gets 503 and the log names the line")
    func sharedHostingSampleHasNoSecret() async throws {
        let directory = try TestDirectory("closed-shared")
        defer { directory.remove() }
        let sample = readText(DeployRecipe.path("shared-hosting/contact-listener.yaml"))
        let configPath = try directory.write("contact-listener.yaml", sample)
        let line = (sample.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.hasPrefix("  token: ") } ?? -2) + 1
        let body = contactForm("tx-sample")
        let input = try directory.write("body", body)
        let run = try await offload {
            try runControlledCGI(in: directory, configPath: configPath, environment: cgiEnvironment(contentLength: String(body.utf8.count)),
                                 stdin: .file(input)).run
        }
        #expect(run.status == 503, "\(run)")
        #expect(run.stderr.contains("\(configPath):\(line): verify.token: environment variable LISTENER_TOKEN is not set"), "\(run.stderr)")
        #expect(!pathExists(directory.file("data/events.jsonl")))
    }
}
