import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// CGI mode: the binary run directly with a CGI environment and the body on stdin, as
/// Apache's mod_cgi or any CGI-capable server runs it. One request, then it exits.
@Suite("CGI mode")
struct CGITests {
    /// What a CGI run printed: the `Status:` header, the other headers, the JSON body.
    struct CGIAnswer: CustomStringConvertible {
        var status: Int
        var headers: [String: String]
        var body: String
        var exit: ExitStatus
        var stderr: String

        var description: String { "\(exit), status \(status), body \(body.prefix(300)), stderr: \(stderr.prefix(500))" }
        func json() throws -> [String: Any] { try jsonObject(body) }
    }

    /// Runs the listener as CGI: `arguments` (none: autodetect), the CGI variables plus
    /// CONTACT_LISTENER_CONFIG, `stdin` as the body. Fails if it doesn't exit by itself.
    static func runCGI(
        in directory: TestDirectory, name: String, arguments: [String] = [], variables: [String: String],
        stdin body: String, configPath: String
    ) async throws -> CGIAnswer {
        let binary = try ListenerBinary.path()
        let input = try directory.write("\(name).stdin", body)
        var environment = variables
        environment["CONTACT_LISTENER_CONFIG"] = configPath
        let process = try ChildProcess(
            name: "cgi \(name)", executable: binary, arguments: arguments, environment: childEnvironment(environment),
            directory: directory.path, stdin: .file(input),
            stdoutPath: directory.file("\(name).stdout"), stderrPath: directory.file("\(name).stderr"))
        guard let exit = try await process.waitForExitAsync(timeout: 30) else {
            process.stop(signal: SIGKILL)
            throw TestFailure("the CGI process did not exit after answering\n\(process.diagnostics())")
        }
        return try parse(process.stdout, exit: exit, stderr: process.stderr)
    }

    /// Splits CGI output: header lines ending in CRLF, an empty line, the body.
    static func parse(_ output: String, exit: ExitStatus, stderr: String) throws -> CGIAnswer {
        guard let end = output.range(of: "\r\n\r\n") else {
            throw TestFailure("no CRLF CRLF after the CGI headers: \(output.debugDescription.prefix(300)); stderr: \(stderr)")
        }
        var headers: [String: String] = [:]
        for line in output[..<end.lowerBound].components(separatedBy: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { throw TestFailure("bad CGI header line '\(line)'") }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        guard let statusLine = headers["status"], let status = Int(statusLine.prefix(3)) else {
            throw TestFailure("no Status: header in CGI output: \(output.prefix(300))")
        }
        return CGIAnswer(status: status, headers: headers, body: String(output[end.upperBound...]), exit: exit, stderr: stderr)
    }

    static func variables(method: String, query: String = "", contentType: String? = nil, contentLength: Int? = nil) -> [String: String] {
        var variables = [
            "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": method, "QUERY_STRING": query,
            "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1", "SCRIPT_NAME": "/cgi-bin/contact-listener.cgi",
            "SERVER_NAME": "example.org", "SERVER_PORT": "443",
        ]
        if let contentType { variables["CONTENT_TYPE"] = contentType }
        if let contentLength { variables["CONTENT_LENGTH"] = String(contentLength) }
        return variables
    }

    @Test("no arguments + CGI environment: POST, GET, 405, truncated body; each process answers once and exits")
    func cgiRequests() async throws {
        let directory = try TestDirectory("cgi")
        defer { directory.remove() }
        let configPath = try directory.write("listener.yaml", ListenerConfig(socketGroup: nil).yaml)
        let eventsPath = directory.file("data/events.jsonl")
        func stored() -> [String] { readText(eventsPath).split(separator: "\n").map(String.init) }

        // A structured POST.
        let body = Fixtures.structuredBody
        let post = try await Self.runCGI(
            in: directory, name: "post",
            variables: Self.variables(method: "POST", contentType: "application/x-www-form-urlencoded", contentLength: body.utf8.count),
            stdin: body, configPath: configPath)
        #expect(post.exit == .exited(0), "\(post)")
        #expect(post.status == 200, "\(post)")
        #expect(post.headers["status"] == "200 OK")
        #expect(post.headers["content-type"] == "application/json")
        #expect(post.headers["content-length"] == String(post.body.utf8.count), "Content-Length must match the body")
        let postJSON = try post.json()
        #expect(postJSON["ok"] as? Bool == true)
        #expect(postJSON["transactionid"] as? String == "tx-structured-1")
        var lines = stored()
        try #require(lines.count == 1, "\(lines)")
        try expectStoredLine(lines[0], equals: Fixtures.structuredEvent, requestID: postJSON["request_id"] as? String,
                             method: "POST", mode: "structured", remoteAddress: "127.0.0.1")
        // The request's log line goes to stderr (the web server's error log).
        #expect(RequestLogLine.parse(post.stderr).map(\.status) == [200], "\(post.stderr)")

        // A GET shortcode request: the query string, no body.
        let get = try await Self.runCGI(
            in: directory, name: "get", variables: Self.variables(method: "GET", query: Fixtures.shortcodeQuery),
            stdin: "", configPath: configPath)
        #expect(get.exit == .exited(0), "\(get)")
        #expect(get.status == 200, "\(get)")
        lines = stored()
        try #require(lines.count == 2, "\(lines)")
        try expectStoredLine(lines[1], equals: Fixtures.shortcodeEvent, requestID: try get.json()["request_id"] as? String,
                             method: "GET", mode: "shortcode", remoteAddress: "127.0.0.1")

        // PUT: 405, nothing stored.
        let putBody = "transactionid=tx-cgi-put"
        let put = try await Self.runCGI(
            in: directory, name: "put",
            variables: Self.variables(method: "PUT", contentType: "application/x-www-form-urlencoded", contentLength: putBody.utf8.count),
            stdin: putBody, configPath: configPath)
        #expect(put.exit == .exited(0), "\(put)")
        #expect(put.status == 405, "\(put)")
        #expect(try put.json()["ok"] as? Bool == false)
        #expect(RequestLogLine.parse(put.stderr).map(\.status) == [405], "\(put.stderr)")

        // CONTENT_LENGTH larger than what stdin holds: 400, nothing stored, and no hang.
        let short = "transactionid=tx-cgi-truncated&contact%5Bemail%5D=t%40x.y"
        let truncated = try await Self.runCGI(
            in: directory, name: "truncated",
            variables: Self.variables(method: "POST", contentType: "application/x-www-form-urlencoded", contentLength: short.utf8.count + 100),
            stdin: short, configPath: configPath)
        #expect(truncated.exit == .exited(0), "\(truncated)")
        #expect(truncated.status == 400, "\(truncated)")
        let error = try truncated.json()["error"] as? String ?? ""
        #expect(error.contains("\(short.utf8.count) of \(short.utf8.count + 100) bytes"), "\(error)")

        lines = stored()
        #expect(lines.count == 2, "refused requests stored something: \(lines)")
        #expect(!lines.contains { $0.contains("tx-cgi-put") || $0.contains("tx-cgi-truncated") })
    }

    @Test("only REQUEST_METHOD set is CGI too, and arguments are ignored (--config from the command line is not read); JSON body")
    func cgiIgnoresArguments() async throws {
        let directory = try TestDirectory("cgi-sub")
        defer { directory.remove() }
        let configPath = try directory.write("listener.yaml", ListenerConfig(socketGroup: nil).yaml)
        let decoy = try directory.write("decoy.yaml", "handlers:\n  - type: jsonl\n    path: decoy.jsonl\n")
        let body = Fixtures.jsonBody
        let answer = try await Self.runCGI(
            in: directory, name: "json", arguments: ["cgi", "--config", decoy],
            variables: ["REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": String(body.utf8.count), "REMOTE_ADDR": "127.0.0.1"],
            stdin: body, configPath: configPath)
        #expect(!pathExists(directory.file("decoy.jsonl")), "a --config argument was used under CGI")
        #expect(answer.exit == .exited(0), "\(answer)")
        #expect(answer.status == 200, "\(answer)")
        let lines = readText(directory.file("data/events.jsonl")).split(separator: "\n").map(String.init)
        try #require(lines.count == 1, "\(lines)")
        try expectStoredLine(lines[0], equals: Fixtures.jsonEvent, requestID: try answer.json()["request_id"] as? String,
                             method: "POST", mode: "structured", remoteAddress: "127.0.0.1")
    }

    @Test("a broken configuration still answers a JSON 503 and names the problem on stderr")
    func cgiMisconfigured() async throws {
        let directory = try TestDirectory("cgi-bad")
        defer { directory.remove() }
        let configPath = try directory.write("listener.yaml", "threads: many\nhandlers:\n  - type: jsonl\n    path: events.jsonl\n")
        let body = "transactionid=tx-cgi-503"
        let answer = try await Self.runCGI(
            in: directory, name: "bad",
            variables: Self.variables(method: "POST", contentType: "application/x-www-form-urlencoded", contentLength: body.utf8.count),
            stdin: body, configPath: configPath)
        #expect(answer.exit == .exited(0), "\(answer)")
        #expect(answer.status == 503, "\(answer)")
        #expect(try answer.json()["ok"] as? Bool == false)
        #expect(answer.stderr.contains("\(configPath):1: threads:"), "\(answer.stderr)")
        #expect(!pathExists(directory.file("events.jsonl")))
    }

    @Test("the process exits once CONTENT_LENGTH bytes are read, even if stdin stays open")
    func cgiExitsWithOpenStdin() async throws {
        let directory = try TestDirectory("cgi-open")
        defer { directory.remove() }
        let configPath = try directory.write("listener.yaml", ListenerConfig(socketGroup: nil).yaml)
        let body = "transactionid=tx-cgi-open&contact%5Bemail%5D=o%40x.y"
        let pipe = try InputPipe()
        var environment = Self.variables(method: "POST", contentType: "application/x-www-form-urlencoded", contentLength: body.utf8.count)
        environment["CONTACT_LISTENER_CONFIG"] = configPath
        let process = try ChildProcess(
            name: "cgi open stdin", executable: try ListenerBinary.path(), arguments: [],
            environment: childEnvironment(environment), directory: directory.path, stdin: .pipe(pipe),
            stdoutPath: directory.file("open.stdout"), stderrPath: directory.file("open.stderr"))
        defer {
            pipe.close()
            process.stop(signal: SIGKILL)
        }
        try pipe.write(Array(body.utf8))
        // The write end stays open: the web server may keep it so.
        let exit = try await process.waitForExitAsync(timeout: 30)
        #expect(exit == .exited(0), "the CGI process must answer and exit without waiting for EOF\n\(process.diagnostics())")
        let answer = try Self.parse(process.stdout, exit: exit ?? .exited(-1), stderr: process.stderr)
        #expect(answer.status == 200, "\(answer)")
    }

    @Test("concurrent CGI processes append whole lines to one file")
    func concurrentCGIProcesses() async throws {
        let directory = try TestDirectory("cgi-many")
        defer { directory.remove() }
        let configPath = try directory.write("listener.yaml", ListenerConfig(socketGroup: nil).yaml)
        let clients = 4, perClient = 15
        let statuses = try await concurrently(clients) { client -> [String: (status: Int, why: String)] in
            var seen: [String: (status: Int, why: String)] = [:]
            for index in 0..<perClient {
                let id = "tx-cgi-\(client)-\(index)"
                let body = "transactionid=\(id)&contact%5Bemail%5D=c\(client)%40x.y&fields%5B0%5D%5Bname%5D=Pad&fields%5B0%5D%5Bvalue%5D="
                    + String(repeating: "p", count: 3000 + index * 97)
                let input = try directory.write("\(id).stdin", body)
                var environment = Self.variables(method: "POST", contentType: "application/x-www-form-urlencoded", contentLength: body.utf8.count)
                environment["CONTACT_LISTENER_CONFIG"] = configPath
                let process = try ChildProcess(
                    name: "cgi \(id)", executable: try ListenerBinary.path(), arguments: [],
                    environment: childEnvironment(environment), directory: directory.path, stdin: .file(input),
                    stdoutPath: directory.file("\(id).stdout"), stderrPath: directory.file("\(id).stderr"))
                guard let exit = process.waitForExit(timeout: 30) else {
                    process.stop(signal: SIGKILL)
                    throw TestFailure("CGI process \(id) did not exit")
                }
                let status = exit == .exited(0) ? (try? Self.parse(process.stdout, exit: exit, stderr: "").status) ?? -1 : -1
                seen[id] = (status, status == 200 ? "" : "\(exit): \(process.stdout.prefix(300)) \(process.stderr.prefix(600))")
            }
            return seen
        }
        let all = statuses.reduce(into: [String: (status: Int, why: String)]()) { $0.merge($1) { a, _ in a } }
        #expect(all.count == clients * perClient)
        #expect(all.values.allSatisfy { $0.status == 200 }, "\(all.filter { $0.value.status != 200 })")
        let lines = readText(directory.file("data/events.jsonl")).split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == clients * perClient)
        var ids: [String] = []
        for line in lines {
            let object = try jsonObject(String(line))
            ids.append(object["transactionid"] as? String ?? "?")
        }
        #expect(Set(ids) == Set(all.keys), "stored ids differ from the answered ones")
        #expect(ids.count == Set(ids).count, "an id was stored twice")
    }
}
