import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP request the tests send (to nginx, or as CGI variables).
struct HTTPRequest: Sendable, CustomStringConvertible {
    var method = "POST"
    var query = ""
    var contentType: String?
    var body: [UInt8] = []

    var description: String {
        let shown = String(decoding: body.prefix(80), as: UTF8.self)
        return "\(method) /hook\(query.isEmpty ? "" : "?" + query) [\(contentType ?? "no type")] \(shown)\(body.count > 80 ? "…" : "")"
    }

    /// A form-encoded POST.
    static func form(_ body: String, query: String = "") -> HTTPRequest {
        HTTPRequest(method: "POST", query: query, contentType: "application/x-www-form-urlencoded", body: Array(body.utf8))
    }

    /// A GET with only a query string (the platform's shortcode URL).
    static func get(_ query: String) -> HTTPRequest {
        HTTPRequest(method: "GET", query: query, contentType: nil, body: [])
    }
}

/// An HTTP answer: status, headers (lower-cased names) and body.
struct HTTPResponse: Sendable, CustomStringConvertible {
    var status: Int
    var headers: [String: String]
    var body: String

    var description: String { "\(status) \(body.trimmingCharacters(in: .whitespacesAndNewlines).prefix(300))" }

    /// The body as a JSON object.
    func json() throws -> [String: Any] { try jsonObject(body) }
}

/// An HTTP client on top of curl (run as a ChildProcess): simple, and it behaves
/// exactly as curl does from a shell. Bodies go through files, so any bytes are fine.
struct CurlClient: Sendable {
    let curl: String
    let port: Int
    let scratch: String
    private static let counter = Atomic<Int>(0)

    /// A client for nginx on 127.0.0.1:`port`; request files go to `directory/http/`.
    init(port: Int, directory: TestDirectory) throws {
        curl = try tool("curl", package: "curl")
        self.port = port
        scratch = try directory.folder("http")
    }

    /// Sends `request` and waits for the answer (blocking; see `send`).
    /// A transport failure (nothing answered) is reported as status 0.
    func sendBlocking(_ request: HTTPRequest) throws -> HTTPResponse {
        let number = Self.counter.add(1, ordering: .relaxed).newValue
        let base = "\(scratch)/\(number)"
        var arguments = [
            "--silent", "--show-error", "--noproxy", "*", "--max-time", "60",
            "--request", request.method, "--dump-header", "\(base).headers", "--output", "\(base).body",
            "--write-out", "%{http_code}", "--header", "Expect:",
        ]
        if let contentType = request.contentType { arguments += ["--header", "Content-Type: \(contentType)"] }
        if !request.body.isEmpty || request.method == "POST" || request.method == "PUT" {
            try Data(request.body).write(to: URL(fileURLWithPath: "\(base).request"))
            arguments += ["--data-binary", "@\(base).request"]
            if request.contentType == nil { arguments += ["--header", "Content-Type:"] }
        }
        arguments.append("http://127.0.0.1:\(port)/hook" + (request.query.isEmpty ? "" : "?\(request.query)"))
        return try Self.run(curl: curl, arguments: arguments, files: base, describing: "\(request)")
    }

    /// Runs curl with `arguments` (which write `FILES.headers` and `FILES.body` and print the
    /// status) and reads the answer back; a transfer that failed is status 0 with curl's error.
    static func run(curl: String, arguments: [String], files base: String, describing what: String) throws -> HTTPResponse {
        let process = try ChildProcess(
            name: "curl", executable: curl, arguments: arguments, environment: childEnvironment(),
            stdoutPath: "\(base).out", stderrPath: "\(base).err")
        guard let exit = process.waitForExit(timeout: 90) else {
            process.stop(signal: SIGKILL)
            throw TestFailure("curl did not finish: \(what)")
        }
        let status = Int(process.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        if exit != .exited(0) && status == 0 {
            return HTTPResponse(status: 0, headers: [:], body: "curl \(exit): \(process.stderr)")
        }
        var headers: [String: String] = [:]
        for line in readText("\(base).headers").split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return HTTPResponse(status: status, headers: headers, body: readText("\(base).body"))
    }

    /// Sends form POSTs `(id, body)` one after another from ONE curl process (a `-K` config
    /// of transfers separated by `next`): far faster than a process per request, so a few
    /// clients keep nginx and the listener busy. Returns each id with its status (0: none).
    func sendBatchBlocking(_ forms: [(id: String, body: String)]) throws -> [(id: String, status: Int)] {
        let number = Self.counter.add(1, ordering: .relaxed).newValue
        let base = "\(scratch)/batch-\(number)"
        func quoted(_ text: String) -> String {
            "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        var config: [String] = []
        for (index, form) in forms.enumerated() {
            if index > 0 { config.append("next") }
            config += [
                "url = \(quoted("http://127.0.0.1:\(port)/hook"))", "data-binary = \(quoted(form.body))",
                "header = \"Expect:\"", "output = \"/dev/null\"", "noproxy = \"*\"", "max-time = 60",
                "write-out = \(quoted("%{http_code} \(form.id)\\n"))",
            ]
        }
        try config.joined(separator: "\n").write(toFile: "\(base).curlrc", atomically: false, encoding: .utf8)
        let process = try ChildProcess(
            name: "curl batch", executable: curl, arguments: ["--silent", "--config", "\(base).curlrc"],
            environment: childEnvironment(), stdoutPath: "\(base).out", stderrPath: "\(base).err")
        guard process.waitForExit(timeout: 120) != nil else {
            process.stop(signal: SIGKILL)
            throw TestFailure("curl batch did not finish\n\(process.diagnostics())")
        }
        var statuses: [String: Int] = [:]
        for line in process.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { statuses[String(parts[1])] = Int(parts[0]) ?? 0 }
        }
        return forms.map { ($0.id, statuses[$0.id] ?? 0) }
    }

    /// Sends `request` without blocking Swift's cooperative threads.
    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await offload { try self.sendBlocking(request) }
    }
}
