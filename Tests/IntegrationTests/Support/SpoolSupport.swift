import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

// Helpers of the spool, HTTP handler and exec handler tests: the
// recorder backend, a `serve` listener with a spool config, the `spool` commands, CGI runs,
// sqlite3 queries and JSON-lines reading. Everything started here is stopped by PID.

/// Files beside the tests: Tests/IntegrationTests/Fixtures and the repository's deploy/.
enum SpoolPaths {
    /// Tests/IntegrationTests.
    static let testsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().path
    /// The repository root.
    static let repository = URL(fileURLWithPath: testsFolder).deletingLastPathComponent().deletingLastPathComponent().path
    /// Tests/IntegrationTests/Fixtures/NAME.
    static func fixture(_ name: String) -> String { "\(testsFolder)/Fixtures/\(name)" }
    /// deploy/examples/NAME.
    static func example(_ name: String) -> String { "\(repository)/deploy/examples/\(name)" }
}

/// Debian's python3 (not a pyenv shim that may lack modules), else any python3 on PATH.
func python3() throws -> String {
    if FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") { return "/usr/bin/python3" }
    return try tool("python3", package: "python3")
}

/// Unique numbers for file names within a test run.
enum SpoolSequence {
    private static let counter = Atomic<Int>(0)
    static func next() -> Int { counter.add(1, ordering: .relaxed).newValue }
}

// MARK: - The recorder backend

/// One request the recorder received.
struct RecordedRequest: @unchecked Sendable, CustomStringConvertible {
    var time: Double
    var method: String
    var path: String
    var headers: [(String, String)]
    var body: String
    var bodyBytes: Int
    var status: Int
    var index: Int

    var description: String { "\(method) \(path) → \(status) at \(time): \(body.prefix(200))" }

    /// The first header called `name` (case-insensitive).
    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// The body as a JSON object.
    func json() throws -> [String: Any] { try jsonObject(body) }

    /// `transactionid` of a body that is the event's JSON (or a template carrying it).
    var transactionID: String? {
        (try? json())?["transactionid"] as? String
    }
}

/// `Fixtures/recorder.py`: an HTTP server on a loopback port that logs every request and
/// answers by a plan (see the script's header).
final class Recorder: Sendable {
    let process: ChildProcess
    let port: Int
    let logPath: String
    let planPath: String

    private init(process: ChildProcess, port: Int, logPath: String, planPath: String) {
        self.process = process
        self.port = port
        self.logPath = logPath
        self.planPath = planPath
    }

    /// Starts the recorder with `plan` (JSON) and waits until it listens.
    static func start(in directory: TestDirectory, name: String = "recorder", plan: String = #"{"steps":[{"status":200}]}"#) async throws -> Recorder {
        let folder = try directory.folder(name)
        let planPath = "\(folder)/plan.json"
        try writeAtomically(planPath, plan)
        let portFile = "\(folder)/port"
        let process = try ChildProcess(
            name: name, executable: try python3(),
            arguments: [SpoolPaths.fixture("recorder.py"), "--log", "\(folder)/requests.jsonl", "--plan", planPath, "--port-file", portFile],
            environment: childEnvironment(), directory: folder,
            stdoutPath: "\(folder)/stdout.log", stderrPath: "\(folder)/stderr.log")
        let ready = try await offload { poll(timeout: 20) { !process.isRunning || pathExists(portFile) } }
        guard ready, process.isRunning, let port = Int(readText(portFile).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.stop(signal: SIGKILL)
            throw TestFailure("the recorder did not start\n\(process.diagnostics())")
        }
        return Recorder(process: process, port: port, logPath: "\(folder)/requests.jsonl", planPath: planPath)
    }

    /// `http://127.0.0.1:PORT`.
    var url: String { "http://127.0.0.1:\(port)" }

    /// Replaces the plan (atomically; the recorder's counters restart).
    func setPlan(_ plan: String) throws { try writeAtomically(planPath, plan) }

    /// Every request so far, in arrival order.
    func requests() throws -> [RecordedRequest] {
        try readText(logPath).split(separator: "\n").map { line in
            let object = try jsonObject(String(line))
            let headers = (object["headers"] as? [[String]] ?? []).compactMap { pair in pair.count == 2 ? (pair[0], pair[1]) : nil }
            return RecordedRequest(
                time: object["time"] as? Double ?? 0, method: object["method"] as? String ?? "",
                path: object["path"] as? String ?? "", headers: headers, body: object["body"] as? String ?? "",
                bodyBytes: object["body_bytes"] as? Int ?? -1, status: object["status"] as? Int ?? 0,
                index: object["index"] as? Int ?? -1)
        }
    }

    /// The requests whose path (without query) is `path`.
    func requests(path: String) throws -> [RecordedRequest] {
        try requests().filter { $0.path.split(separator: "?", maxSplits: 1).first.map(String.init) == path }
    }

    /// Waits until `condition` holds for the requests received (or fails after `timeout`).
    @discardableResult
    func waitFor(timeout: Double, _ what: String, _ condition: @escaping @Sendable ([RecordedRequest]) -> Bool) async throws -> [RecordedRequest] {
        let met = try await offload { poll(timeout: timeout) { condition((try? self.requests()) ?? []) } }
        let requests = try self.requests()
        guard met else { throw TestFailure("the recorder never saw \(what) within \(timeout) s; it got:\n\(requests.map(\.description).joined(separator: "\n"))") }
        return requests
    }

    func stop() { process.stop(signal: SIGTERM, timeout: 5) }
}

/// Writes `text` to a temporary file beside `path` and renames it over `path`.
func writeAtomically(_ path: String, _ text: String) throws {
    let temporary = "\(path).\(SpoolSequence.next()).tmp"
    try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
    guard rename(temporary, path) == 0 else { throw TestFailure("rename \(temporary): \(String(cString: strerror(errno)))") }
}

// MARK: - The listener with a spool

/// A `contact-listener serve --config FILE --listen ADDRESS` process, optionally started
/// through a wrapper (`prlimit --fsize=… --`), with its own log file per start.
final class SpoolServer: Sendable {
    let process: ChildProcess
    let endpoint: ListenerEndpoint
    let configPath: String

    private init(process: ChildProcess, endpoint: ListenerEndpoint, configPath: String) {
        self.process = process
        self.endpoint = endpoint
        self.configPath = configPath
    }

    /// Starts the listener and waits until it logs that it listens: on `endpoint` if given,
    /// else on a unix socket `listener.sock` in the test folder, or with `tcp` on a free
    /// loopback port (another one if it got taken meanwhile). `wrapper` runs it through a
    /// program that execs it (`prlimit --fsize=… --`), so the PID stays the listener's.
    static func start(
        in directory: TestDirectory, configPath: String, endpoint: ListenerEndpoint? = nil, tcp: Bool = false,
        environment: [String: String] = [:], wrapper: [String] = []
    ) async throws -> SpoolServer {
        let binary = try ListenerBinary.path()
        var lastError: Error = TestFailure("no attempt")
        for attempt in 1...5 {
            let chosen: ListenerEndpoint
            if let endpoint, attempt == 1 || !tcp {
                chosen = endpoint
            } else if tcp || endpoint != nil {
                chosen = .tcp(try Network.freePort())
            } else {
                chosen = .unix(directory.file("listener.sock"))
            }
            let number = SpoolSequence.next()
            let command = wrapper + [binary, "serve", "--config", configPath, "--listen", chosen.listen]
            let process = try ChildProcess(
                name: "listener", executable: command[0], arguments: Array(command.dropFirst()),
                environment: childEnvironment(environment), directory: directory.path,
                stdoutPath: directory.file("listener-\(number).out"), stderrPath: directory.file("listener-\(number).log"))
            let ready = try await offload {
                poll(timeout: 30) { !process.isRunning || process.stderr.contains("listening") }
            }
            if ready && process.isRunning { return SpoolServer(process: process, endpoint: chosen, configPath: configPath) }
            process.stop(signal: SIGKILL)
            lastError = TestFailure("the listener did not become ready\n\(process.diagnostics())")
            // Only a TCP port taken by someone else is worth another try (with a new port).
            guard case .tcp = chosen, tcp, process.stderr.contains("in use") else { throw lastError }
        }
        throw lastError
    }

    /// A TCP endpoint on a loopback port that was free a moment ago (prefer `tcp: true`,
    /// which picks another port if this one gets taken before the listener binds it).
    static func tcpEndpoint() throws -> ListenerEndpoint { .tcp(try Network.freePort()) }

    /// SIGTERM (SIGKILL after `timeout`), by PID.
    @discardableResult
    func stop(timeout: Double = 20) -> ExitStatus { process.stop(signal: SIGTERM, timeout: timeout) }

    /// `kill -9`, and wait until it is gone.
    func crash() {
        process.send(SIGKILL)
        _ = process.waitForExit(timeout: 10)
    }

    var log: String { process.stderr }
}

/// The socket group nginx's workers need when the tests run as root.
var spoolSocketGroupLine: String { Network.isRoot ? "socket_group: nogroup\n" : "" }

// MARK: - The binary's other commands

/// What a command printed.
struct CommandResult: Sendable, CustomStringConvertible {
    var exit: ExitStatus
    var stdout: String
    var stderr: String
    var description: String { "\(exit); stdout: \(stdout.prefix(1500)); stderr: \(stderr.suffix(1500))" }
}

/// Runs `contact-listener ARGUMENTS` (or any `executable`) to its end; blocking.
func runCommand(
    _ arguments: [String], in directory: TestDirectory, environment: [String: String] = [:],
    executable: String? = nil, timeout: Double = 60
) throws -> CommandResult {
    let binary = try executable ?? ListenerBinary.path()
    let folder = try directory.folder("commands")
    let number = SpoolSequence.next()
    let process = try ChildProcess(
        name: (executable.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "contact-listener") + " " + (arguments.first ?? ""),
        executable: binary, arguments: arguments, environment: childEnvironment(environment), directory: directory.path,
        stdoutPath: "\(folder)/\(number).out", stderrPath: "\(folder)/\(number).err")
    guard let exit = process.waitForExit(timeout: timeout) else {
        process.stop(signal: SIGKILL)
        throw TestFailure("\(process.commandLine) did not finish within \(timeout) s\n\(process.diagnostics())")
    }
    return CommandResult(exit: exit, stdout: process.stdout, stderr: process.stderr)
}

/// `contact-listener spool …` / `drain` against one config.
struct SpoolCLI: Sendable {
    let directory: TestDirectory
    let configPath: String
    var environment: [String: String] = [:]

    /// Runs `contact-listener ARGUMENTS --config FILE`.
    func run(_ arguments: [String]) throws -> CommandResult {
        try runCommand(arguments + ["--config", configPath], in: directory, environment: environment)
    }

    /// Runs a command that prints JSON and parses it; fails on a non-zero exit.
    func json(_ arguments: [String]) throws -> Any {
        let result = try run(arguments + ["--json"])
        guard result.exit == .exited(0) else { throw TestFailure("`\(arguments.joined(separator: " "))` failed: \(result)") }
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    }

    /// `spool status --json`: handler → state → count.
    func status() throws -> [String: [String: Int]] {
        guard let object = try json(["spool", "status"]) as? [String: [String: Int]] else {
            throw TestFailure("spool status --json printed no handler → state → count object")
        }
        return object
    }

    /// `spool list --json` rows.
    func list(state: String? = nil, handler: String? = nil, limit: Int = 100_000) throws -> [[String: Any]] {
        var arguments = ["spool", "list", "--limit", String(limit)]
        if let state { arguments += ["--state", state] }
        if let handler { arguments += ["--handler", handler] }
        guard let rows = try json(arguments) as? [[String: Any]] else { throw TestFailure("spool list --json printed no array") }
        return rows
    }

    /// `spool show ID --json`.
    func show(_ id: Int) throws -> [String: Any] {
        guard let object = try json(["spool", "show", String(id)]) as? [String: Any] else { throw TestFailure("spool show --json printed no object") }
        return object
    }

    /// Polls `spool status` until no delivery is pending or failed and at least
    /// `delivered` deliveries (summed over handlers) are delivered; returns the last status.
    @discardableResult
    func waitUntilSettled(delivered: Int = 0, timeout: Double = 60) async throws -> [String: [String: Int]] {
        let cli = self
        let last = Mutex<[String: [String: Int]]>([:])
        let settled = try await offload {
            poll(timeout: timeout) {
                guard let status = try? cli.status() else { return false }
                last.withLock { $0 = status }
                let open = status.values.reduce(0) { $0 + ($1["pending"] ?? 0) + ($1["failed"] ?? 0) }
                let done = status.values.reduce(0) { $0 + ($1["delivered"] ?? 0) }
                return open == 0 && done >= delivered
            }
        }
        let status = last.withLock { $0 }
        guard settled else { throw TestFailure("the spool did not settle within \(timeout) s: \(status)") }
        return status
    }

    /// Sends every `failed` delivery again now (`spool retry ID`) until no delivery is open
    /// and at least `delivered` are delivered: for schedules that rest a failure for hours.
    func retryFailedUntilSettled(delivered: Int, timeout: Double = 120) async throws {
        let cli = self
        let last = Mutex<String>("")
        let settled = try await offload {
            poll(timeout: timeout) {
                guard let status = try? cli.status() else { return false }
                last.withLock { $0 = "\(status)" }
                let open = status.values.reduce(0) { $0 + ($1["pending"] ?? 0) + ($1["failed"] ?? 0) + ($1["dead"] ?? 0) }
                let done = status.values.reduce(0) { $0 + ($1["delivered"] ?? 0) }
                if open == 0 && done >= delivered { return true }
                for row in (try? cli.list(state: "failed")) ?? [] { _ = try? cli.run(["spool", "retry", String(rowID(row))]) }
                return false
            }
        }
        guard settled else { throw TestFailure("the spool did not settle within \(timeout) s while failed deliveries were sent again: \(last.withLock { $0 })") }
    }

    /// Polls `spool list` until `condition` holds for its rows.
    @discardableResult
    func waitForRows(state: String? = nil, handler: String? = nil, timeout: Double = 30, _ what: String,
                     _ condition: @escaping @Sendable ([[String: Any]]) -> Bool) async throws -> [[String: Any]] {
        let cli = self
        let met = try await offload { poll(timeout: timeout) { condition((try? cli.list(state: state, handler: handler)) ?? []) } }
        let rows = try list(state: state, handler: handler)
        guard met else { throw TestFailure("spool list never showed \(what) within \(timeout) s: \(rows)") }
        return rows
    }
}

// MARK: - CGI

/// One CGI run's answer.
struct CGIRun: Sendable, CustomStringConvertible {
    var status: Int
    var body: String
    /// The header lines after `Status:` (`Set-Cookie: …`).
    var headers: [String] = []
    var exit: ExitStatus
    var stderr: String
    var description: String { "\(exit), status \(status), body \(body.prefix(300)), stderr: \(stderr.suffix(800))" }
    func json() throws -> [String: Any] { try jsonObject(body) }
}

/// Runs the binary as a CGI script (no arguments, a CGI environment, `body` on stdin)
/// and waits until it exits (it delivers after answering, within its budget); blocking.
func runCGIRequest(
    in directory: TestDirectory, configPath: String, body: [UInt8], contentType: String = "application/x-www-form-urlencoded",
    method: String = "POST", extraEnvironment: [String: String] = [:], wrapper: [String] = [], timeout: Double = 60
) throws -> CGIRun {
    try startCGIRequest(
        in: directory, configPath: configPath, body: body, contentType: contentType, method: method,
        extraEnvironment: extraEnvironment, wrapper: wrapper
    ).finish(timeout: timeout)
}

/// Starts the binary as a CGI script, as `runCGIRequest` does, without waiting for it: the
/// test can signal it (SIGSTOP) while it delivers. `wrapper` runs it through a program that
/// execs it (`Umask.wrapper(0)`), so the PID stays the listener's.
func startCGIRequest(
    in directory: TestDirectory, configPath: String, body: [UInt8], contentType: String = "application/x-www-form-urlencoded",
    method: String = "POST", extraEnvironment: [String: String] = [:], wrapper: [String] = []
) throws -> CGIProcess {
    let binary = try ListenerBinary.path()
    let folder = try directory.folder("cgi")
    let number = SpoolSequence.next()
    let input = "\(folder)/\(number).stdin"
    try Data(body).write(to: URL(fileURLWithPath: input))
    var environment = extraEnvironment
    environment["GATEWAY_INTERFACE"] = "CGI/1.1"
    environment["REQUEST_METHOD"] = method
    environment["CONTENT_TYPE"] = contentType
    environment["CONTENT_LENGTH"] = String(body.count)
    environment["QUERY_STRING"] = ""
    // Loopback: these configs have no `verify:` rule, which admits loopback clients only.
    environment["REMOTE_ADDR"] = "127.0.0.1"
    environment["SERVER_PROTOCOL"] = "HTTP/1.1"
    environment["CONTACT_LISTENER_CONFIG"] = configPath
    let command = wrapper + [binary]
    let process = try ChildProcess(
        name: "cgi", executable: command[0], arguments: Array(command.dropFirst()), environment: childEnvironment(environment),
        directory: directory.path, stdin: .file(input), stdoutPath: "\(folder)/\(number).stdout", stderrPath: "\(folder)/\(number).stderr")
    return CGIProcess(process: process)
}

/// A CGI process started by `startCGIRequest`.
struct CGIProcess: Sendable {
    let process: ChildProcess

    /// Waits until it exits and parses its answer; blocking.
    func finish(timeout: Double = 60) throws -> CGIRun {
        guard let exit = process.waitForExit(timeout: timeout) else {
            process.stop(signal: SIGKILL)
            throw TestFailure("the CGI process did not exit within \(timeout) s\n\(process.diagnostics())")
        }
        let output = process.stdout
        guard let end = output.range(of: "\r\n\r\n") else {
            throw TestFailure("no CGI header block in \(output.debugDescription.prefix(300)); stderr: \(process.stderr.suffix(800))")
        }
        let statusLine = output[..<end.lowerBound].components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("status:") } ?? ""
        let status = Int(statusLine.dropFirst("status:".count).trimmingCharacters(in: .whitespaces).prefix(3)) ?? 0
        var run = CGIRun(status: status, body: String(output[end.upperBound...]), exit: exit, stderr: process.stderr)
        run.headers = output[..<end.lowerBound].components(separatedBy: "\r\n")
        return run
    }
}

/// A wrapper (for `wrapper:` arguments) that sets the umask, then execs the listener in
/// place: `sh -c 'umask 000; exec "$0" "$@"' contact-listener …`.
enum Umask {
    static func wrapper(_ mask: mode_t) -> [String] {
        ["/bin/sh", "-c", "umask \(String(mask, radix: 8)); exec \"$0\" \"$@\""]
    }
}

// MARK: - Reading what the handlers stored

/// A JSON-lines file: the parsed objects, and the lines that are not JSON objects.
struct JSONLines {
    var objects: [[String: Any]] = []
    var broken: [String] = []
    var raw: [String] = []
    /// False when the file does not end with a newline.
    var endsWithNewline = true

    init(path: String) {
        let text = readText(path)
        endsWithNewline = text.isEmpty || text.hasSuffix("\n")
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            raw.append(String(line))
            if let object = try? jsonObject(String(line)) { objects.append(object) } else { broken.append(String(line)) }
        }
        if !endsWithNewline, let last = text.split(separator: "\n", omittingEmptySubsequences: false).last {
            raw.append(String(last))
            broken.append(String(last))
        }
    }

    /// How many lines carry each transaction id.
    var countsByTransaction: [String: Int] {
        var counts: [String: Int] = [:]
        for object in objects { counts[object["transactionid"] as? String ?? "(none)", default: 0] += 1 }
        return counts
    }
}

/// Runs `sqlite3 -batch DB SQL` and returns its output lines (fields separated by `|`).
func sqliteQuery(_ database: String, _ sql: String, in directory: TestDirectory) throws -> [String] {
    let sqlite = try tool("sqlite3", package: "sqlite3")
    let result = try runCommand(["-batch", "-cmd", ".timeout 10000", database, sql], in: directory, executable: sqlite)
    guard result.exit == .exited(0) else { throw TestFailure("sqlite3 \(database) \"\(sql)\" failed: \(result)") }
    return result.stdout.split(separator: "\n").map(String.init)
}

/// Percent-encodes a form value the way PHP's `http_build_query` does (spaces as `+`).
func formEncode(_ text: String) -> String {
    var output = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"):
            output.unicodeScalars.append(Unicode.Scalar(byte))
        case UInt8(ascii: " "):
            output += "+"
        default:
            let hex = String(byte, radix: 16, uppercase: true)
            output += "%" + (byte < 16 ? "0" + hex : hex)
        }
    }
    return output
}

/// A form body from (name, value) pairs, names written as PHP writes them (brackets encoded).
func formBody(_ pairs: [(String, String)]) -> String {
    pairs.map { "\(formEncode($0.0))=\(formEncode($0.1))" }.joined(separator: "&")
}

/// A small structured contact for transaction `id`.
func contactForm(_ id: String, email: String = "ann@example.com", firstName: String? = "Ann", extra: [(String, String)] = []) -> String {
    var pairs = [("transactionid", id), ("contact[email]", email)]
    if let firstName { pairs += [("fields[0][name]", "First Name"), ("fields[0][value]", firstName)] }
    return formBody(pairs + extra)
}

/// `Task.sleep` in seconds.
func pause(_ seconds: Double) async throws {
    try await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000))
}

// MARK: - listener + nginx

/// A spooling listener (`serve`, unix socket) behind a private nginx, with a curl client
/// and the `spool` commands for its config. `stop()` ends nginx and the listener by PID.
struct SpoolStack: Sendable {
    let directory: TestDirectory
    let configPath: String
    let listener: SpoolServer
    let nginx: Nginx
    let client: CurlClient
    let cli: SpoolCLI

    /// Writes `yaml` (with `socket_group: nogroup` in front when root) as listener.yaml and
    /// starts the listener with `environment`, then nginx.
    static func start(in directory: TestDirectory, config yaml: String, environment: [String: String] = [:]) async throws -> SpoolStack {
        let configPath = try directory.write("listener.yaml", spoolSocketGroupLine + yaml)
        let listener = try await SpoolServer.start(in: directory, configPath: configPath, environment: environment)
        let nginx: Nginx
        do {
            nginx = try await Nginx.start(in: directory, upstream: listener.endpoint)
        } catch {
            listener.stop()
            throw error
        }
        return SpoolStack(
            directory: directory, configPath: configPath, listener: listener, nginx: nginx,
            client: try CurlClient(port: nginx.port, directory: directory),
            cli: SpoolCLI(directory: directory, configPath: configPath, environment: environment))
    }

    /// POSTs a form body through nginx.
    func post(_ body: String) async throws -> HTTPResponse {
        try await client.send(.form(body))
    }

    /// POSTs and requires a 200 with `"ok":true`; returns the answer's JSON.
    @discardableResult
    func postAccepted(_ body: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String: Any] {
        let response = try await post(body)
        guard response.status == 200 else {
            throw TestFailure("POST answered \(response)\n\(listener.process.diagnostics())")
        }
        let object = try response.json()
        #expect(object["ok"] as? Bool == true, "\(response)", sourceLocation: sourceLocation)
        return object
    }

    /// Stops nginx, then the listener (SIGTERM, by PID); returns how the listener ended.
    @discardableResult
    func stop() -> ExitStatus {
        nginx.stop()
        return listener.stop()
    }
}

/// `id` of a `spool list` row.
func rowID(_ row: [String: Any]) -> Int { row["id"] as? Int ?? -1 }

/// A flag shared by the threads of a test.
final class SpoolFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}

/// A JSON value re-serialized with sorted keys: equal JSON gives equal text, whatever the
/// key order or spacing of the original.
func canonicalJSON(_ value: Any) -> String {
    guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]) else {
        return "(not JSON: \(value))"
    }
    return String(decoding: data, as: UTF8.self)
}

/// `canonicalJSON` of a JSON text.
func canonicalJSON(text: String) throws -> String {
    canonicalJSON(try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]))
}
