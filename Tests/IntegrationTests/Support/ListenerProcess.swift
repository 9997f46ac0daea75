import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The `contact-listener` binary under test: $CONTACT_LISTENER_BIN, else the executable
/// SwiftPM built beside this test bundle (the test target depends on it).
enum ListenerBinary {
    static func path() throws -> String {
        if let explicit = ProcessInfo.processInfo.environment["CONTACT_LISTENER_BIN"], !explicit.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: explicit) else {
                throw TestFailure("CONTACT_LISTENER_BIN=\(explicit) is not an executable file")
            }
            return explicit
        }
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        let candidate = URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent("contact-listener").path
        guard FileManager.default.isExecutableFile(atPath: candidate) else {
            throw TestFailure("no contact-listener executable at \(candidate); run `swift build --build-tests` first or set CONTACT_LISTENER_BIN")
        }
        return candidate
    }
}

/// What a test's listener configuration holds; `yaml` renders it.
struct ListenerConfig {
    /// `listen:` (nil: the socket on fd 0, for spawn-fcgi).
    var listen: String?
    /// `socket_group:`; `nogroup` as root, so nginx's `nobody` worker may connect.
    var socketGroup: String? = Network.isRoot ? "nogroup" : nil
    var threads = 4
    var maxBodyBytes: Int?
    var maxVars: Int?
    /// The jsonl handler's path, relative to the config file's folder.
    var eventsPath = "data/events.jsonl"
    var fsync = true
    /// `log_file:`, relative to the config file's folder (nil: the log goes to stderr).
    var logFile: String?

    var yaml: String {
        var lines = ["# written by the integration tests"]
        if let listen { lines.append("listen: \"\(listen)\"") }
        lines.append("socket_mode: \"0660\"")
        if let socketGroup { lines.append("socket_group: \(socketGroup)") }
        lines.append("threads: \(threads)")
        if let logFile { lines.append("log_file: \(logFile)") }
        var limits: [String] = []
        if let maxBodyBytes { limits.append("max_body_bytes: \(maxBodyBytes)") }
        if let maxVars { limits.append("max_vars: \(maxVars)") }
        if !limits.isEmpty { lines.append("limits: { \(limits.joined(separator: ", ")) }") }
        lines.append("handlers:")
        lines.append("  - type: jsonl")
        lines.append("    path: \(eventsPath)")
        lines.append("    fsync: \(fsync)")
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Where a running listener accepts FastCGI connections.
enum ListenerEndpoint: Sendable {
    case unix(String)
    case tcp(Int)

    /// The `listen:` / `--listen` form.
    var listen: String {
        switch self {
        case .unix(let path): return "unix:\(path)"
        case .tcp(let port): return "127.0.0.1:\(port)"
        }
    }

    /// nginx's `fastcgi_pass` target.
    var nginxUpstream: String {
        switch self {
        case .unix(let path): return "unix:\(path)"
        case .tcp(let port): return "127.0.0.1:\(port)"
        }
    }
}

/// A running contact-listener (started with `serve`, or by spawn-fcgi with no arguments),
/// with its config file, its events file and its log.
final class ListenerProcess: Sendable {
    let process: ChildProcess
    let endpoint: ListenerEndpoint
    let configPath: String
    let eventsPath: String
    /// The config's `log_file` (nil: the log is the process's stderr).
    let logFilePath: String?

    private init(process: ChildProcess, endpoint: ListenerEndpoint, configPath: String, eventsPath: String, logFilePath: String?) {
        self.process = process
        self.endpoint = endpoint
        self.configPath = configPath
        self.eventsPath = eventsPath
        self.logFilePath = logFilePath
    }

    /// Writes `config` (with `listen:` set to `endpoint`) and runs
    /// `contact-listener serve --config FILE`, then waits until it listens.
    /// A TCP endpoint is picked here (retrying if the free port got taken meanwhile).
    static func serve(
        in directory: TestDirectory, config: ListenerConfig = ListenerConfig(), tcp: Bool = false
    ) async throws -> ListenerProcess {
        let binary = try ListenerBinary.path()
        return try await startRetrying(tcp: tcp) { attempt in
            let endpoint: ListenerEndpoint = tcp ? .tcp(try Network.freePort()) : .unix(directory.file("listener.sock"))
            var rendered = config
            rendered.listen = endpoint.listen
            let configPath = try directory.write("listener.yaml", rendered.yaml)
            let process = try ChildProcess(
                name: "listener", executable: binary, arguments: ["serve", "--config", configPath],
                environment: childEnvironment(), directory: directory.path,
                stdoutPath: directory.file("listener.\(attempt).out"), stderrPath: directory.file("listener.\(attempt).log"))
            return ListenerProcess(
                process: process, endpoint: endpoint, configPath: configPath,
                eventsPath: directory.file(rendered.eventsPath), logFilePath: rendered.logFile.map(directory.file))
        }
    }

    /// Starts a listener with `start` and waits until it listens; when it could not bind its
    /// TCP port (taken by someone else since `Network.freePort()`), tries again, 5 times.
    private static func startRetrying(tcp: Bool, _ start: (Int) throws -> ListenerProcess) async throws -> ListenerProcess {
        var lastError: Error = TestFailure("no attempt")
        for attempt in 1...5 {
            let listener = try start(attempt)
            do {
                try await listener.waitUntilReady()
                return listener
            } catch {
                listener.process.stop(signal: SIGKILL)
                lastError = error
                // Only a TCP port taken by someone else is worth another try.
                if !(tcp && listener.process.stderr.contains("in use")) { throw error }
            }
        }
        throw lastError
    }

    /// Runs `spawn-fcgi -n … -- contact-listener` (no arguments: the listener must find the
    /// socket on fd 0 by itself) with CONTACT_LISTENER_CONFIG in its environment.
    static func spawnFCGI(in directory: TestDirectory, config: ListenerConfig = ListenerConfig(), tcp: Bool) async throws -> ListenerProcess {
        let binary = try ListenerBinary.path()
        let spawner = try tool("spawn-fcgi", package: "spawn-fcgi")
        var rendered = config
        rendered.listen = nil
        let configPath = try directory.write("listener.yaml", rendered.yaml)
        return try await startRetrying(tcp: tcp) { attempt in
            let endpoint: ListenerEndpoint = tcp ? .tcp(try Network.freePort()) : .unix(directory.file("spawned.sock"))
            var arguments = ["-n"]
            switch endpoint {
            case .unix(let path):
                arguments += ["-s", path, "-M", "0660"]
                if Network.isRoot { arguments += ["-G", "nogroup"] }
            case .tcp(let port):
                arguments += ["-a", "127.0.0.1", "-p", String(port)]
            }
            arguments += ["--", binary]
            // -n: spawn-fcgi binds the socket, moves it to fd 0 and execs the listener,
            // so this process's PID is the listener's.
            let process = try ChildProcess(
                name: "spawn-fcgi+listener", executable: spawner, arguments: arguments,
                environment: childEnvironment(["CONTACT_LISTENER_CONFIG": configPath]), directory: directory.path,
                stdoutPath: directory.file("listener.\(attempt).out"), stderrPath: directory.file("listener.\(attempt).log"))
            return ListenerProcess(
                process: process, endpoint: endpoint, configPath: configPath,
                eventsPath: directory.file(rendered.eventsPath), logFilePath: rendered.logFile.map(directory.file))
        }
    }

    /// Waits until the listener logged that it listens (and its unix socket exists).
    func waitUntilReady(timeout: Double = 30) async throws {
        let process = self.process
        let endpoint = self.endpoint
        let logFilePath = self.logFilePath
        let ready = try await offload {
            poll(timeout: timeout) {
                if !process.isRunning { return true }
                if case .unix(let path) = endpoint, !pathExists(path) { return false }
                return (logFilePath.map(readText) ?? process.stderr).contains("listening")
            }
        }
        guard ready, process.isRunning else {
            throw TestFailure("the listener did not become ready within \(timeout) s\n\(process.diagnostics())")
        }
    }

    /// SIGTERM, wait (SIGKILL after `timeout`), and return how it ended.
    func stop(timeout: Double = 20) async throws -> ExitStatus {
        try await process.stopAsync(signal: SIGTERM, timeout: timeout)
    }

    /// The listener's stderr: its log.
    var log: String { process.stderr }

    /// The log's request lines (one per request answered).
    var requestLog: [RequestLogLine] { RequestLogLine.parse(log) }

    /// The stored events, one per line, as raw text (an unterminated last line included,
    /// so that a torn append shows up as a line that isn't JSON).
    var storedLines: [String] {
        var lines = readText(eventsPath).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }
}

/// One `request` line of the listener's log: the word `request` (the message) and
/// `key=value` metadata, values with spaces in double quotes. Both log formats the
/// listener has had are read:
/// `TIME LEVEL request method=POST status=200 … request_id=… remote_addr=…` and
/// swift-log's `TIME LEVEL LABEL: bytes=… status=200 … [SOURCE] request`.
struct RequestLogLine: Sendable, CustomStringConvertible {
    var status: Int
    var method: String
    var requestID: String
    var transactionID: String
    var line: String

    var description: String { line }

    static func parse(_ log: String) -> [RequestLogLine] {
        log.split(separator: "\n").compactMap { raw -> RequestLogLine? in
            let line = String(raw)
            guard line.split(separator: " ").contains("request"),
                  let status = value(of: "status", in: line).flatMap({ Int($0) }) else { return nil }
            return RequestLogLine(
                status: status, method: value(of: "method", in: line) ?? "",
                requestID: value(of: "request_id", in: line) ?? "",
                transactionID: value(of: "transactionid", in: line) ?? "", line: line)
        }
    }

    /// The value after ` key=`: up to the next space, or a double-quoted string.
    static func value(of key: String, in line: String) -> String? {
        guard let range = line.range(of: " \(key)=") else { return nil }
        let rest = line[range.upperBound...]
        if rest.first == "\"" {
            var value = ""
            var escaped = false
            for character in rest.dropFirst() {
                if escaped {
                    value.append(character)
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    break
                } else {
                    value.append(character)
                }
            }
            return value
        }
        return String(rest.prefix { $0 != " " })
    }
}

/// Parses one stored line (or a response body) as a JSON object.
func jsonObject(_ text: String) throws -> [String: Any] {
    let value = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    guard let object = value as? [String: Any] else { throw TestFailure("not a JSON object: \(text.prefix(200))") }
    return object
}
