import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Runs the listener binary with `arguments` and waits for it to exit by itself.
func runListener(
    _ arguments: [String], in directory: TestDirectory, name: String, environment: [String: String] = [:]
) async throws -> (exit: ExitStatus, stdout: String, stderr: String) {
    let process = try ChildProcess(
        name: name, executable: try ListenerBinary.path(), arguments: arguments,
        environment: childEnvironment(environment), directory: directory.path,
        stdoutPath: directory.file("\(name).stdout"), stderrPath: directory.file("\(name).stderr"))
    guard let exit = try await process.waitForExitAsync(timeout: 30) else {
        process.stop(signal: SIGKILL)
        throw TestFailure("`contact-listener \(arguments.joined(separator: " "))` did not exit by itself\n\(process.diagnostics())")
    }
    return (exit, process.stdout, process.stderr)
}

/// The non-empty lines of `text`.
func nonEmptyLines(_ text: String) -> [String] {
    text.split(separator: "\n").map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
}

@Suite("check-config")
struct CheckConfigTests {
    /// A bad configuration and the `FILE:LINE: KEY: REASON` it must produce.
    struct BadConfig: Sendable, CustomTestStringConvertible {
        let name: String
        let yaml: String
        let line: Int
        let key: String
        let reason: String
        var testDescription: String { name }
    }

    static let badConfigs: [BadConfig] = [
        BadConfig(name: "unknown top-level key", yaml: "listen: \"unix:/tmp/x.sock\"\nthreads: 2\nbogus_key: 1\n",
                  line: 3, key: "bogus_key", reason: "unknown key"),
        BadConfig(name: "wrong type: threads", yaml: "# comment\nthreads: many\n",
                  line: 2, key: "threads", reason: "whole number"),
        BadConfig(name: "wrong type: a nested limit", yaml: "limits:\n  max_body_bytes: 1M\n  max_vars: lots\n",
                  line: 3, key: "limits.max_vars", reason: "whole number"),
        BadConfig(name: "wrong type: handlers as a mapping", yaml: "handlers:\n  type: jsonl\n  path: e.jsonl\n",
                  line: 2, key: "handlers", reason: "list"),
        BadConfig(name: "threads out of range", yaml: "threads: 0\n", line: 1, key: "threads", reason: "between 1 and 1024"),
        BadConfig(name: "socket_mode not octal", yaml: "socket_mode: \"0999\"\n", line: 1, key: "socket_mode", reason: "octal"),
        BadConfig(name: "listen not an address", yaml: "listen: \"nowhere\"\n", line: 1, key: "listen", reason: "unix:/path"),
        BadConfig(name: "jsonl handler without path", yaml: "threads: 2\nhandlers:\n  - type: jsonl\n    fsync: true\n",
                  line: 3, key: "handlers[0]", reason: "needs 'path'"),
        BadConfig(name: "unknown handler option", yaml: "handlers:\n  - type: jsonl\n    path: e.jsonl\n    colour: red\n",
                  line: 4, key: "handlers[0].colour", reason: "unknown key"),
        BadConfig(name: "unknown handler type", yaml: "handlers:\n  - type: carrier-pigeon\n    path: e.jsonl\n",
                  line: 2, key: "handlers[0]", reason: "carrier-pigeon"),
        BadConfig(name: "handler folder can't be made", yaml: "handlers:\n  - type: jsonl\n    path: /dev/null/sub/events.jsonl\n",
                  line: 3, key: "handlers[0].path", reason: "/dev/null/sub"),
    ]

    @Test("a bad config exits 78 with one line FILE:LINE: KEY: REASON", arguments: badConfigs)
    func badConfig(_ bad: BadConfig) async throws {
        let directory = try TestDirectory("check-bad")
        defer { directory.remove() }
        let path = try directory.write("bad.yaml", bad.yaml)
        let result = try await runListener(["check-config", "--config", path], in: directory, name: "check")
        #expect(result.exit == .exited(78), "\(result)")
        #expect(result.stdout.isEmpty, "nothing on stdout for a bad config: \(result.stdout)")
        let lines = nonEmptyLines(result.stderr)
        #expect(lines.count == 1, "exactly one line on stderr: \(result.stderr)")
        let line = lines.first ?? ""
        let location = "\(path):\(bad.line): \(bad.key): "
        #expect(line.contains(location), "expected '\(location)…' in: \(line)")
        let reason = line.components(separatedBy: location).last ?? ""
        #expect(reason.contains(bad.reason), "the reason should mention '\(bad.reason)': \(line)")
    }

    @Test("a good config exits 0 and prints the effective settings")
    func goodConfig() async throws {
        let directory = try TestDirectory("check-good")
        defer { directory.remove() }
        let path = try directory.write("good.yaml", """
            # a complete configuration
            listen: "unix:\(directory.path)/listener.sock"
            socket_mode: "0640"
            socket_group: nogroup
            threads: 3
            limits: { max_body_bytes: 64k, max_vars: 500, max_depth: 8 }
            handlers:
              - type: jsonl
                name: archive
                path: ${EVENTS_FOLDER}/events.jsonl
                fsync: false

            """)
        // Found through CONTACT_LISTENER_CONFIG (no --config), with ${VAR} expanded.
        let result = try await runListener(
            ["check-config"], in: directory, name: "check",
            environment: ["CONTACT_LISTENER_CONFIG": path, "EVENTS_FOLDER": "stored"])
        #expect(result.exit == .exited(0), "\(result)")
        #expect(result.stderr.isEmpty, "\(result.stderr)")
        let printed = result.stdout
        for expected in [
            "(from \(path))", "listen: \"unix:\(directory.path)/listener.sock\"", "socket_mode: \"0640\"",
            "socket_group: nogroup", "threads: 3", "max_body_bytes: 65536", "max_vars: 500", "max_depth: 8",
            "- type: jsonl", "name: archive", "path: \(directory.path)/stored/events.jsonl", "fsync: false",
        ] {
            #expect(printed.contains(expected), "'\(expected)' missing from:\n\(printed)")
        }
    }

    /// A YAML syntax error is a bad config like any other: one line, with its line number.
    @Test("a YAML syntax error exits 78 with one line FILE:LINE: REASON", arguments: [
        ("unclosed flow sequence", "threads: 2\nlimits: { max_vars: [1, 2 }\nlisten: x\n", 2),
        ("bad indentation", "threads: 2\nhandlers:\n  - type: jsonl\n     path: x\n", 4),
        ("duplicate key", "threads: 2\nthreads: 3\n", 2),
    ])
    func yamlSyntaxError(name: String, yaml: String, line: Int) async throws {
        let directory = try TestDirectory("check-yaml")
        defer { directory.remove() }
        let path = try directory.write("broken.yaml", yaml)
        let result = try await runListener(["check-config", "--config", path], in: directory, name: "check")
        #expect(result.exit == .exited(78), "\(name): \(result)")
        let lines = nonEmptyLines(result.stderr)
        #expect(lines.count == 1, "\(name): exactly one line on stderr, got \(lines.count):\n\(result.stderr)")
        #expect(lines.first?.hasPrefix("contact-listener: \(path):\(line): ") == true,
                "\(name): expected 'contact-listener: \(path):\(line): …', got:\n\(result.stderr)")
    }

    /// Validating must not change the machine: run as root before the service starts, it
    /// would leave root-owned folders and an empty 0640 events file that the service user
    /// (www-data) then can't open, so the real start fails.
    @Test("check-config leaves no files or folders behind")
    func checkConfigHasNoSideEffects() async throws {
        let directory = try TestDirectory("check-dry")
        defer { directory.remove() }
        let path = try directory.write("listener.yaml", """
            handlers:
              - type: jsonl
                path: var/lib/contact-listener/events.jsonl

            """)
        let before = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        let result = try await runListener(["check-config", "--config", path], in: directory, name: "check")
        #expect(result.exit == .exited(0), "\(result)")
        let after = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { !$0.hasPrefix("check.") }.sorted()
        #expect(after == before, "check-config created \(Set(after).subtracting(before).sorted()) (var/lib/contact-listener/events.jsonl)")
    }

    @Test("an empty config means the defaults")
    func emptyConfig() async throws {
        let directory = try TestDirectory("check-empty")
        defer { directory.remove() }
        let path = try directory.write("empty.yaml", "")
        let result = try await runListener(["check-config", "--config", path], in: directory, name: "check")
        #expect(result.exit == .exited(0), "\(result)")
        #expect(result.stdout.contains("threads: 16"), "\(result.stdout)")
        #expect(result.stdout.contains("socket_mode: \"0660\""), "\(result.stdout)")
        #expect(result.stdout.contains("max_body_bytes: 8388608"), "\(result.stdout)")
    }
}

@Suite("serve: startup failures")
struct ServeStartupTests {
    /// Checks a failed start: non-zero, exactly one `contact-listener: …` line on stderr
    /// naming `mentioning`, nothing from libfcgi.
    func expectCleanFailure(
        _ result: (exit: ExitStatus, stdout: String, stderr: String), mentioning: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(!result.exit.signaled && result.exit.code != 0, "must exit non-zero: \(result)", sourceLocation: sourceLocation)
        let lines = nonEmptyLines(result.stderr)
        #expect(lines.count == 1, "exactly one line on stderr, got:\n\(result.stderr)", sourceLocation: sourceLocation)
        #expect(lines.first?.hasPrefix("contact-listener: ") == true, "\(result.stderr)", sourceLocation: sourceLocation)
        for text in mentioning {
            #expect(result.stderr.contains(text), "the message should mention '\(text)': \(result.stderr)", sourceLocation: sourceLocation)
        }
    }

    @Test("unix socket in a folder that doesn't exist (--listen and listen:)", arguments: ["flag", "config"])
    func missingSocketFolder(source: String) async throws {
        let directory = try TestDirectory("serve-nodir")
        defer { directory.remove() }
        let socket = directory.file("missing/folder/listener.sock")
        var config = ListenerConfig()
        var arguments = ["serve"]
        if source == "config" { config.listen = "unix:\(socket)" } else { arguments += ["--listen", "unix:\(socket)"] }
        let configPath = try directory.write("listener.yaml", config.yaml)
        let result = try await runListener(arguments + ["--config", configPath], in: directory, name: "serve")
        expectCleanFailure(result, mentioning: [socket, "does not exist"])
        #expect(result.exit == .exited(71), "\(result)")
        #expect(!pathExists(directory.file("missing")), "it must not create the folder")
    }

    @Test("TCP port already in use")
    func portInUse() async throws {
        let directory = try TestDirectory("serve-busy")
        defer { directory.remove() }
        let busy = try Network.occupyPort()
        defer { close(busy.fd) }
        let configPath = try directory.write("listener.yaml", ListenerConfig().yaml)
        let result = try await runListener(
            ["serve", "--config", configPath, "--listen", "127.0.0.1:\(busy.port)"], in: directory, name: "serve")
        expectCleanFailure(result, mentioning: ["127.0.0.1:\(busy.port)"])
    }

    @Test("a socket path another listener is serving: refused, the first keeps serving")
    func socketInUse() async throws {
        let directory = try TestDirectory("serve-twice")
        defer { directory.remove() }
        let first = try await ListenerProcess.serve(in: directory)
        defer { first.process.stop() }
        let result = try await runListener(
            ["serve", "--config", first.configPath], in: directory, name: "second")
        expectCleanFailure(result, mentioning: ["listening on"])
        guard case .unix(let socket) = first.endpoint else { return }
        #expect(pathExists(socket), "the second listener removed the first one's socket")

        // The first still answers through nginx.
        let nginx = try await Nginx.start(in: directory, upstream: first.endpoint)
        defer { nginx.stop() }
        let response = try await CurlClient(port: nginx.port, directory: directory).send(.form("transactionid=tx-first&contact%5Bemail%5D=a%40b.c"))
        #expect(response.status == 200, "\(response)")
        #expect(try await first.stop() == .exited(0))
    }

    @Test("a socket path longer than sun_path")
    func socketPathTooLong() async throws {
        let directory = try TestDirectory("serve-long")
        defer { directory.remove() }
        let folder = try directory.folder(String(repeating: "d", count: 120))
        let configPath = try directory.write("listener.yaml", ListenerConfig().yaml)
        let result = try await runListener(
            ["serve", "--config", configPath, "--listen", "unix:\(folder)/listener.sock"], in: directory, name: "serve")
        expectCleanFailure(result, mentioning: ["longer than"])
    }

    @Test("no --listen, no listen:, and fd 0 is not a socket")
    func nothingToListenOn() async throws {
        let directory = try TestDirectory("serve-none")
        defer { directory.remove() }
        let configPath = try directory.write("listener.yaml", ListenerConfig().yaml)
        let result = try await runListener(["serve", "--config", configPath], in: directory, name: "serve")
        expectCleanFailure(result, mentioning: ["no socket to listen on"])
        #expect(result.exit == .exited(64), "\(result)")
    }
}

/// The listener's life cycle under signals, and what it finds at its socket path.
@Suite("serve: signals and socket path")
struct LifecycleTests {
    @Test("SIGINT stops like SIGTERM; SIGHUP and SIGUSR1 don't stop it", arguments: [SIGINT, SIGTERM])
    func signals(stopSignal: Int32) async throws {
        let directory = try TestDirectory("signals")
        defer { directory.remove() }
        let listener = try await ListenerProcess.serve(in: directory)
        defer { listener.process.stop(signal: SIGKILL) }
        guard case .unix(let socket) = listener.endpoint else { return }
        let nginx = try await Nginx.start(in: directory, upstream: listener.endpoint)
        defer { nginx.stop() }
        let client = try CurlClient(port: nginx.port, directory: directory)

        listener.process.send(SIGHUP)
        listener.process.send(SIGUSR1)
        let after = try await client.send(.form("transactionid=tx-after-hup&contact%5Bemail%5D=h%40x.y"))
        #expect(after.status == 200, "still serving after SIGHUP/SIGUSR1: \(after)\n\(listener.process.diagnostics())")
        #expect(listener.process.isRunning)

        listener.process.send(stopSignal)
        let exit = try await listener.process.waitForExitAsync(timeout: 20)
        #expect(exit == .exited(0), "\(listener.process.diagnostics())")
        #expect(!pathExists(socket), "socket file left behind")
        #expect(listener.storedLines.count == 1)
    }

    @Test("a stale socket left by a killed listener is replaced")
    func staleSocket() async throws {
        let directory = try TestDirectory("stale")
        defer { directory.remove() }
        let first = try await ListenerProcess.serve(in: directory)
        guard case .unix(let socket) = first.endpoint else { return }
        #expect(try await first.process.stopAsync(signal: SIGKILL) == ExitStatus(code: SIGKILL, signaled: true))
        #expect(pathExists(socket), "SIGKILL leaves the socket file")

        let second = try await ListenerProcess.serve(in: directory)
        defer { second.process.stop() }
        let nginx = try await Nginx.start(in: directory, upstream: second.endpoint)
        defer { nginx.stop() }
        let response = try await CurlClient(port: nginx.port, directory: directory)
            .send(.form("transactionid=tx-after-crash&contact%5Bemail%5D=s%40x.y"))
        #expect(response.status == 200, "\(response)")
        #expect(try await second.stop() == .exited(0))
    }

    @Test("a regular file at the socket path is refused and left alone")
    func fileAtSocketPath() async throws {
        let directory = try TestDirectory("notsock")
        defer { directory.remove() }
        let path = try directory.write("listener.sock", "precious data\n")
        let configPath = try directory.write("listener.yaml", ListenerConfig(listen: "unix:\(path)").yaml)
        let result = try await runListener(["serve", "--config", configPath], in: directory, name: "serve")
        #expect(result.exit == .exited(71), "\(result)")
        #expect(nonEmptyLines(result.stderr).count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("not a socket"), "\(result.stderr)")
        #expect(readText(path) == "precious data\n", "the file was changed")
    }
}

@Suite("decode: what the listener makes of a body, from the shell")
struct DecodeCommandTests {
    struct Row: Sendable, CustomStringConvertible {
        var name: String
        var arguments: [String]
        var body: String
        var exit: Int32
        /// Text the output must contain (stdout on success, stderr on failure).
        var contains: [String]
        var description: String { name }
    }

    static let rows: [Row] = [
        // No configuration: the fail-closed `verify:` default guards the network, not a local file.
        Row(name: "a structured POST, no configuration", arguments: [], body: "transactionid=t1&contact%5Bemail%5D=a%40b.c&fields%5B0%5D%5Bname%5D=City",
            exit: 0, contains: [#""transactionid":"t1""#, #""email":"a@b.c""#, #"{"id":null,"name":"City","value":null}"#, #""mode":"structured""#]),
        Row(name: "--raw prints PHP's $_POST", arguments: ["--raw"], body: "a[]=1&a[]=2&b[x][]=3",
            exit: 0, contains: [#"{"a":["1","2"],"b":{"x":["3"]}}"#]),
        Row(name: "--method GET reads shortcodes", arguments: ["--method", "GET"], body: "email=x%40y.z&first=Ann",
            exit: 0, contains: [#""email":"x@y.z""#, #"{"id":null,"name":"first","value":"Ann"}"#, #""mode":"shortcode""#]),
        Row(name: "a malformed section names its key", arguments: [], body: "fields=abc",
            exit: 1, contains: ["400", "'fields' must be an array"]),
    ]

    @Test(arguments: rows)
    func decode(_ row: Row) async throws {
        let directory = try TestDirectory("decode")
        defer { directory.remove() }
        let file = try directory.write("body.txt", row.body)
        let result = try await runListener(["decode"] + row.arguments + [file], in: directory, name: "decode")
        #expect(result.exit == .exited(row.exit), "\(result)")
        for text in row.contains {
            #expect((row.exit == 0 ? result.stdout : result.stderr).contains(text), "\(text) not in \(result)")
        }
    }
}
