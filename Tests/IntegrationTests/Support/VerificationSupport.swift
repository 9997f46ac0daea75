import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

// Helpers of the verification and hostile-input tests (nginx is the shared
// `Nginx`, with `ipv6:` and `clientMaxBodySize:`): a curl client that sends any header from any
// loopback source address, HMAC signatures computed with the openssl CLI, a CGI run with
// a fully controlled environment, and /proc memory figures. Everything started here is
// stopped by PID.

// MARK: - curl with headers and source addresses

/// One request of the verification tests: any method, query, headers and body, sent from
/// a chosen loopback source address (`--interface 127.0.0.2`) or over IPv6 (`[::1]`).
struct VerificationRequest: Sendable, CustomStringConvertible {
    var method = "POST"
    var query = ""
    var headers: [String] = []
    var contentType: String? = "application/x-www-form-urlencoded"
    var body: [UInt8] = []
    /// A file holding the body (for bodies too large to keep in memory twice).
    var bodyFile: String? = nil
    /// The local address curl binds to (REMOTE_ADDR as nginx sees it).
    var interface: String? = nil
    /// Connect to [::1] instead of 127.0.0.1.
    var ipv6 = false

    var description: String {
        let shown = String(decoding: body.prefix(60), as: UTF8.self)
        return "\(method) /hook\(query.isEmpty ? "" : "?" + query) from \(ipv6 ? "::1" : interface ?? "127.0.0.1") "
            + "headers \(headers) body \(shown.debugDescription)\(body.count > 60 ? "… (\(body.count) bytes)" : "")"
    }

    /// A form POST.
    static func form(_ body: String, query: String = "", headers: [String] = []) -> VerificationRequest {
        VerificationRequest(method: "POST", query: query, headers: headers, body: Array(body.utf8))
    }
}

/// An answer and how long it took.
struct TimedResponse: Sendable {
    var response: HTTPResponse
    var seconds: Double
}

/// Sends `request` to nginx on `port` with curl (blocking). Status 0: nothing answered.
func verificationSend(_ request: VerificationRequest, port: Int, directory: TestDirectory) throws -> TimedResponse {
    let curl = try tool("curl", package: "curl")
    let folder = try directory.folder("vhttp")
    let base = "\(folder)/\(SpoolSequence.next())"
    var arguments = [
        "--silent", "--show-error", "--noproxy", "*", "--max-time", "60", "--globoff",
        "--request", request.method, "--dump-header", "\(base).headers", "--output", "\(base).body",
        "--write-out", "%{http_code}", "--header", "Expect:",
    ]
    if let interface = request.interface { arguments += ["--interface", interface] }
    if let contentType = request.contentType { arguments += ["--header", "Content-Type: \(contentType)"] }
    for header in request.headers { arguments += ["--header", header] }
    if let bodyFile = request.bodyFile {
        arguments += ["--data-binary", "@\(bodyFile)"]
    } else if !request.body.isEmpty || request.method == "POST" || request.method == "PUT" {
        try Data(request.body).write(to: URL(fileURLWithPath: "\(base).request"))
        arguments += ["--data-binary", "@\(base).request"]
    }
    if request.contentType == nil { arguments += ["--header", "Content-Type:"] }
    let host = request.ipv6 ? "[::1]" : "127.0.0.1"
    arguments.append("http://\(host):\(port)/hook" + (request.query.isEmpty ? "" : "?\(request.query)"))
    let started = Date()
    let process = try ChildProcess(
        name: "curl", executable: curl, arguments: arguments, environment: childEnvironment(),
        stdoutPath: "\(base).out", stderrPath: "\(base).err")
    guard let exit = process.waitForExit(timeout: 90) else {
        process.stop(signal: SIGKILL)
        throw TestFailure("curl did not finish: \(request)")
    }
    let seconds = Date().timeIntervalSince(started)
    let status = Int(process.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    if exit != .exited(0) && status == 0 {
        return TimedResponse(response: HTTPResponse(status: 0, headers: [:], body: "curl \(exit): \(process.stderr)"), seconds: seconds)
    }
    var headers: [String: String] = [:]
    for line in readText("\(base).headers").split(separator: "\r\n") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return TimedResponse(response: HTTPResponse(status: status, headers: headers, body: readText("\(base).body")), seconds: seconds)
}

/// `verificationSend` without blocking Swift's cooperative threads.
func verificationSendAsync(_ request: VerificationRequest, port: Int, directory: TestDirectory) async throws -> TimedResponse {
    try await offload { try verificationSend(request, port: port, directory: directory) }
}

// MARK: - HMAC with the openssl CLI

/// HMAC of `message` under `key` with `openssl dgst -<digest> -mac HMAC -macopt hexkey:…`
/// (the key as hex, so any bytes work); the raw MAC bytes.
func opensslHMAC(digest: String = "sha256", key: [UInt8], message: [UInt8], directory: TestDirectory) throws -> [UInt8] {
    let openssl = try tool("openssl", package: "openssl")
    let folder = try directory.folder("hmac")
    let number = SpoolSequence.next()
    let input = "\(folder)/\(number).msg"
    let output = "\(folder)/\(number).mac"
    try Data(message).write(to: URL(fileURLWithPath: input))
    let hexKey = key.map { String(format: "%02x", $0) }.joined()
    let process = try ChildProcess(
        name: "openssl", executable: openssl,
        arguments: ["dgst", "-\(digest)", "-mac", "HMAC", "-macopt", "hexkey:\(hexKey)", "-binary", "-out", output, input],
        environment: childEnvironment(), stdoutPath: "\(folder)/\(number).out", stderrPath: "\(folder)/\(number).err")
    guard process.waitForExit(timeout: 30) == .exited(0), let mac = FileManager.default.contents(atPath: output) else {
        throw TestFailure("openssl dgst failed\n\(process.diagnostics())")
    }
    return Array(mac)
}

/// Lower-case hex.
func hexString(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

/// `count` random bytes.
func randomBytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255) } }

/// A random token made of letters and digits (distinctive, so grepping a log for it can't
/// match by accident).
func randomToken(_ prefix: String) -> String {
    let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
    return prefix + String((0..<24).map { _ in alphabet.randomElement()! })
}

/// Standard Webhooks headers for `body`: `webhook-signature: v1,<base64 HMAC-SHA256 of
/// "id.timestamp.body">` under `key` (the decoded base64 part of the `whsec_` secret).
func standardWebhooksHeaders(
    id: String, timestamp: Int, body: [UInt8], key: [UInt8], directory: TestDirectory
) throws -> [String] {
    let signed = Array("\(id).\(timestamp).".utf8) + body
    let mac = try opensslHMAC(key: key, message: signed, directory: directory)
    return ["webhook-id: \(id)", "webhook-timestamp: \(timestamp)", "webhook-signature: v1,\(Data(mac).base64EncodedString())"]
}

/// The current unix time in seconds.
var unixNow: Int { Int(Date().timeIntervalSince1970) }

// MARK: - the listener

/// Writes `yaml` (with `socket_group: nogroup` in front when root) to `listener.yaml` and
/// starts `serve` on `endpoint` (nil: a unix socket in the folder).
func startVerificationListener(
    in directory: TestDirectory, yaml: String, endpoint: ListenerEndpoint? = nil, environment: [String: String] = [:]
) async throws -> SpoolServer {
    try directory.folder("data")
    let configPath = try directory.write("listener.yaml", spoolSocketGroupLine + yaml)
    return try await SpoolServer.start(in: directory, configPath: configPath, endpoint: endpoint, environment: environment)
}

/// The jsonl handler's lines (`data/events.jsonl`), parsed.
func storedEvents(_ directory: TestDirectory) -> JSONLines {
    JSONLines(path: directory.file("data/events.jsonl"))
}

/// Memory figures of a running process from /proc/PID/status, in KiB.
struct ProcessMemory: Sendable, CustomStringConvertible {
    var rssKiB: Int
    var hwmKiB: Int

    init(pid: pid_t) throws {
        let text = readText("/proc/\(pid)/status")
        func field(_ name: String) throws -> Int {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("\(name):") }),
                  let value = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap({ Int($0) })
            else { throw TestFailure("no \(name) in /proc/\(pid)/status (is the process gone?)") }
            return value
        }
        rssKiB = try field("VmRSS")
        hwmKiB = try field("VmHWM")
    }

    var description: String { "VmRSS \(rssKiB / 1024) MiB (\(rssKiB) KiB), VmHWM \(hwmKiB / 1024) MiB (\(hwmKiB) KiB)" }
}

// MARK: - CGI with a controlled environment

/// Runs the binary as a CGI script with exactly `environment` (plus PATH and the config)
/// and `stdin`; waits for it to exit. Unlike `runCGIRequest`, nothing is filled in, so
/// CONTENT_LENGTH can be missing, wrong or not a number.
func runControlledCGI(
    in directory: TestDirectory, configPath: String, environment: [String: String], stdin: StandardInput,
    timeout: Double = 60
) throws -> (run: CGIRun, seconds: Double) {
    let binary = try ListenerBinary.path()
    let folder = try directory.folder("cgi")
    let number = SpoolSequence.next()
    var full = environment
    full["CONTACT_LISTENER_CONFIG"] = configPath
    let started = Date()
    let process = try ChildProcess(
        name: "cgi", executable: binary, arguments: [], environment: childEnvironment(full),
        directory: directory.path, stdin: stdin, stdoutPath: "\(folder)/\(number).stdout", stderrPath: "\(folder)/\(number).stderr")
    guard let exit = process.waitForExit(timeout: timeout) else {
        process.stop(signal: SIGKILL)
        throw TestFailure("the CGI process did not exit within \(timeout) s\n\(process.diagnostics())")
    }
    let seconds = Date().timeIntervalSince(started)
    let output = process.stdout
    guard let end = output.range(of: "\r\n\r\n") else {
        throw TestFailure("no CGI header block in \(output.debugDescription.prefix(300)); stderr: \(process.stderr.suffix(800))")
    }
    let statusLine = output[..<end.lowerBound].components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("status:") } ?? ""
    let status = Int(statusLine.dropFirst("status:".count).trimmingCharacters(in: .whitespaces).prefix(3)) ?? 0
    return (CGIRun(status: status, body: String(output[end.upperBound...]), exit: exit, stderr: process.stderr), seconds)
}

/// The CGI environment of a POST from 127.0.0.1 (CONTENT_LENGTH left to the caller): a
/// config without `verify:` rules admits loopback clients only.
func cgiEnvironment(method: String = "POST", contentType: String? = "application/x-www-form-urlencoded",
                    contentLength: String?, query: String = "") -> [String: String] {
    var environment = [
        "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": method, "QUERY_STRING": query,
        "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1", "SCRIPT_NAME": "/hook",
    ]
    if let contentType { environment["CONTENT_TYPE"] = contentType }
    if let contentLength { environment["CONTENT_LENGTH"] = contentLength }
    return environment
}

// MARK: - checks

/// Checks an `{"ok":false,"error":"…"}` answer: status, JSON, and that the error starts
/// with `errorPrefix` (e.g. `verify.token:`) and contains `mentioning`.
func expectRejected(
    _ response: HTTPResponse, status: Int, errorPrefix: String? = nil, mentioning: String? = nil, _ context: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(response.status == status, "\(context): \(response)", sourceLocation: sourceLocation)
    guard let body = try? response.json() else {
        Issue.record("\(context): the answer is not a JSON object: \(response)", sourceLocation: sourceLocation)
        return
    }
    #expect(body["ok"] as? Bool == false, "\(context): \(response)", sourceLocation: sourceLocation)
    let error = body["error"] as? String ?? ""
    if let errorPrefix {
        #expect(error.hasPrefix(errorPrefix), "\(context): the error should start with '\(errorPrefix)': \(error)",
                sourceLocation: sourceLocation)
    }
    if let mentioning {
        #expect(error.contains(mentioning), "\(context): the error should mention '\(mentioning)': \(error)",
                sourceLocation: sourceLocation)
    }
}

/// Checks a `{"ok":true,…}` answer and returns its JSON.
@discardableResult
func expectAccepted(
    _ response: HTTPResponse, _ context: String, sourceLocation: SourceLocation = #_sourceLocation
) -> [String: Any] {
    #expect(response.status == 200, "\(context): \(response)", sourceLocation: sourceLocation)
    guard let body = try? response.json() else {
        Issue.record("\(context): the answer is not a JSON object: \(response)", sourceLocation: sourceLocation)
        return [:]
    }
    #expect(body["ok"] as? Bool == true, "\(context): \(response)", sourceLocation: sourceLocation)
    return body
}

/// Fails for every secret that occurs in `text` (a log, a stored file), without printing
/// the whole text.
func expectNoSecrets(_ secrets: [String], in text: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    for secret in secrets where !secret.isEmpty {
        if let range = text.range(of: secret) {
            let start = text.index(range.lowerBound, offsetBy: -min(120, text.distance(from: text.startIndex, to: range.lowerBound)))
            Issue.record("\(what) contains the secret '\(secret)': …\(text[start..<range.upperBound])…",
                         sourceLocation: sourceLocation)
        }
    }
}
