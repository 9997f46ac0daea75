import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

// Helpers of the deployment tests: the recipes of deploy/ rendered for a private
// server, a private nginx with a given `server { … }` body, an HTTP client for any path,
// `contact-listener send-test`, and the handler outputs. Everything started here is
// stopped by PID.

/// The recipes in deploy/ and the repository around them.
enum DeployRecipe {
    /// The repository root.
    static var repository: String { SpoolPaths.repository }

    /// deploy/RELATIVE.
    static func path(_ relative: String) -> String { "\(repository)/deploy/\(relative)" }

    /// The text of deploy/RELATIVE.
    static func text(_ relative: String) throws -> String {
        let file = path(relative)
        guard FileManager.default.fileExists(atPath: file) else { throw TestFailure("the recipe \(file) is missing") }
        return readText(file)
    }

    /// deploy/RELATIVE with every `(old, new)` replaced. Each `old` must occur in the
    /// recipe, so that a recipe edited away from what the test runs fails loudly instead
    /// of silently testing something else.
    static func render(_ relative: String, _ replacements: [(String, String)]) throws -> String {
        var text = try self.text(relative)
        for (old, new) in replacements {
            guard text.contains(old) else {
                throw TestFailure("deploy/\(relative) no longer contains \(old.debugDescription); update the test with the recipe")
            }
            text = text.replacingOccurrences(of: old, with: new)
        }
        return text
    }

    /// deploy/shared-hosting/contact-listener.yaml (or the one in `recipes`, a release's
    /// copy) as an operator fills it in: `${LISTENER_TOKEN}` replaced by `token`.
    static func sharedHostingConfig(token: String, recipes: String = path("shared-hosting")) throws -> String {
        let text = readText("\(recipes)/contact-listener.yaml")
        guard text.contains("\"${LISTENER_TOKEN}\"") else {
            throw TestFailure("\(recipes)/contact-listener.yaml no longer has token \"${LISTENER_TOKEN}\"; update the test with the recipe")
        }
        return text.replacingOccurrences(of: "\"${LISTENER_TOKEN}\"", with: "\"\(token)\"")
    }
}

/// A folder of a shared-hosting site as the recipe says to fill it: the binary as
/// `contact-listener.cgi` (755), the recipe's `.htaccess` (644) and its config with a
/// token (600), in a folder (755) of Apache's document root owned by the site's user.
struct SharedHostingSite {
    /// The folder's name under the document root.
    let name: String
    /// Its absolute path.
    let path: String
    /// The config's token.
    let token: String

    /// Installs `binary` with the recipes in `recipes` (deploy/shared-hosting, or a release's copy).
    static func install(binary: String, recipes: String = DeployRecipe.path("shared-hosting"), in directory: TestDirectory) throws -> SharedHostingSite {
        let name = "listener-\(randomHex(6))"
        let path = try directory.folder("apache-www/\(name)")
        let token = randomHex(16)
        try FileManager.default.copyItem(atPath: binary, toPath: "\(path)/contact-listener.cgi")
        try FileManager.default.copyItem(atPath: "\(recipes)/.htaccess", toPath: "\(path)/.htaccess")
        try DeployRecipe.sharedHostingConfig(token: token, recipes: recipes)
            .write(toFile: "\(path)/contact-listener.yaml", atomically: false, encoding: .utf8)
        chmod("\(path)/contact-listener.cgi", 0o755)
        chmod("\(path)/contact-listener.yaml", 0o600)
        chmod("\(path)/.htaccess", 0o644)
        chmod(path, 0o755)
        // Owned by the site's user (suEXEC runs the script as that user; here www-data).
        try WebServerUser.own(path)
        return SharedHostingSite(name: name, path: path, token: token)
    }

    /// The script's URL on `apache`.
    func url(on apache: ApacheServer) -> String { "\(apache.url)/\(name)/contact-listener.cgi" }
}

extension ApacheServer {
    /// A private Apache with mod_cgid whose `folder` honours every `.htaccess` directive,
    /// as a shared host allows a customer's folder.
    static func startForSharedHosting(in directory: TestDirectory, folder: String) async throws -> ApacheServer {
        try await start(in: directory, modules: ["cgid"], site: """
            <Directory \(folder)>
                AllowOverride All
                Require all granted
            </Directory>
            """)
    }
}

/// A folder's files by relative path with their size and modification time, for "nothing
/// was created or changed". SQLite's -wal and -shm files are left out: any process that opens a database
/// in WAL mode writes its shared-memory index, and the last one to close removes the WAL.
struct SiteSnapshot: Equatable {
    let files: [String: String]

    init(_ folder: String) throws {
        var files: [String: String] = [:]
        let enumerator = FileManager.default.enumerator(atPath: folder)
        while let relative = enumerator?.nextObject() as? String {
            if relative.hasSuffix("-wal") || relative.hasSuffix("-shm") { continue }
            var status = stat()
            guard lstat("\(folder)/\(relative)", &status) == 0 else { throw TestFailure("stat \(folder)/\(relative) failed") }
            files[relative] = (status.st_mode & S_IFMT) == S_IFDIR
                ? "folder" : "\(status.st_size) bytes, modified \(status.st_mtim.tv_sec).\(status.st_mtim.tv_nsec)"
        }
        self.files = files
    }

    /// The paths added, removed or changed from `self` to `other`.
    func difference(to other: SiteSnapshot) -> String {
        let paths = Set(files.keys).union(other.files.keys).sorted()
        return paths.compactMap { path in
            switch (files[path], other.files[path]) {
            case (nil, _?): return "created: \(path)"
            case (_?, nil): return "removed: \(path)"
            case let (old?, new?) where old != new: return "changed: \(path)"
            default: return nil
            }
        }.joined(separator: "\n")
    }
}

/// The user web servers run their workers as when the tests run as root (Debian's
/// www-data, the group `init` picks), else nil (the workers keep our user).
enum WebServerUser {
    static var name: String? { Network.isRoot ? "www-data" : nil }

    /// The group a listener's `socket_group:` must name so the web server may connect.
    static var socketGroupLine: String { name.map { "socket_group: \($0)\n" } ?? "" }

    /// `chown -R www-data:www-data PATH` when root (a folder the web server's user owns:
    /// the shared-hosting situation, where suEXEC runs the script as the site's user).
    static func own(_ path: String) throws {
        guard let name, let user = getpwnam(name) else { return }
        let uid = user.pointee.pw_uid
        let gid = user.pointee.pw_gid
        guard chown(path, uid, gid) == 0 else { throw TestFailure("chown \(path): \(String(cString: strerror(errno)))") }
        guard let enumerator = FileManager.default.enumerator(atPath: path) else { return }
        for case let relative as String in enumerator {
            let target = "\(path)/\(relative)"
            guard lchown(target, uid, gid) == 0 else { throw TestFailure("chown \(target): \(String(cString: strerror(errno)))") }
        }
    }
}

/// A random lower-case hex string of `bytes` bytes (tokens, secret paths).
func randomHex(_ bytes: Int) -> String {
    (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
}

// MARK: - HTTP to any path

/// A request to an arbitrary URL with curl (`--path-as-is`, so `..` reaches the server),
/// on a thread of its own (never blocking Swift's cooperative pool).
func curlRequest(
    _ url: String, method: String = "GET", body: String? = nil, contentType: String? = nil,
    in directory: TestDirectory
) async throws -> HTTPResponse {
    try await offload { try curlRequestBlocking(url, method: method, body: body, contentType: contentType, in: directory) }
}

/// `curlRequest`, blocking.
func curlRequestBlocking(
    _ url: String, method: String = "GET", body: String? = nil, contentType: String? = nil,
    in directory: TestDirectory
) throws -> HTTPResponse {
    let curl = try tool("curl", package: "curl")
    let folder = try directory.folder("curl")
    let base = "\(folder)/\(SpoolSequence.next())"
    var arguments = [
        "--silent", "--show-error", "--noproxy", "*", "--max-time", "60", "--path-as-is",
        "--request", method, "--dump-header", "\(base).headers", "--output", "\(base).body",
        "--write-out", "%{http_code}", "--header", "Expect:",
    ]
    if let contentType { arguments += ["--header", "Content-Type: \(contentType)"] }
    if let body {
        try Data(body.utf8).write(to: URL(fileURLWithPath: "\(base).request"))
        arguments += ["--data-binary", "@\(base).request"]
    }
    arguments.append(url)
    return try CurlClient.run(curl: curl, arguments: arguments, files: base, describing: "\(method) \(url)")
}

// MARK: - send-test, the real CLI

/// What `contact-listener send-test` printed, and the transaction id it sent.
struct SendTestResult: Sendable, CustomStringConvertible {
    var result: CommandResult
    /// `send-test-…` from the "✓ stored: transaction …" line.
    var transactionID: String?

    var description: String { result.description }
    var stored: Bool { result.exit == .exited(0) && result.stdout.contains("✓ stored") }
}

/// `runCommand` (a command run to its end) on a thread of its own.
func runCommandAsync(
    _ arguments: [String], in directory: TestDirectory, environment: [String: String] = [:],
    executable: String? = nil, timeout: Double = 60
) async throws -> CommandResult {
    try await offload { try runCommand(arguments, in: directory, environment: environment, executable: executable, timeout: timeout) }
}

/// Runs `contact-listener send-test URL [--token T] [--get]` (the binary under test unless
/// `executable` names another) and returns its output.
func sendTest(
    _ url: String, token: String?, get: Bool = false, in directory: TestDirectory, executable: String? = nil
) async throws -> SendTestResult {
    var arguments = ["send-test", url]
    if let token { arguments += ["--token", token] }
    if get { arguments.append("--get") }
    let result = try await runCommandAsync(arguments, in: directory, executable: executable, timeout: 60)
    let id = result.stdout.firstMatch(of: /transaction (send-test-[A-Za-z0-9_-]+)/).map { String($0.1) }
    return SendTestResult(result: result, transactionID: id)
}

/// Runs send-test and checks what the recipes promise: exit 0 and "✓ stored". Returns the
/// transaction id it sent.
@discardableResult
func expectSendTestStored(
    _ url: String, token: String?, get: Bool = false, in directory: TestDirectory, executable: String? = nil,
    diagnostics: @autoclosure () -> String = "", sourceLocation: SourceLocation = #_sourceLocation
) async throws -> String {
    let sent = try await sendTest(url, token: token, get: get, in: directory, executable: executable)
    #expect(sent.result.exit == .exited(0), "send-test \(url): \(sent)\n\(diagnostics())", sourceLocation: sourceLocation)
    #expect(sent.result.stdout.contains("✓ stored"), "send-test \(url): \(sent)\n\(diagnostics())", sourceLocation: sourceLocation)
    return try #require(sent.transactionID, "send-test printed no transaction id: \(sent)\n\(diagnostics())", sourceLocation: sourceLocation)
}

// MARK: - What the handlers stored

/// Waits until the JSON-lines file at `path` has a line for `transactionID` (delivery
/// from the spool runs after the answer) and returns that event.
func waitForJSONLine(_ path: String, transactionID: String, timeout: Double = 30) async throws -> [String: Any] {
    let found = try await offload {
        poll(timeout: timeout) {
            JSONLines(path: path).objects.contains { $0["transactionid"] as? String == transactionID }
        }
    }
    let lines = JSONLines(path: path)
    guard found, let event = lines.objects.first(where: { $0["transactionid"] as? String == transactionID }) else {
        throw TestFailure("\(path) never got transaction \(transactionID) within \(timeout) s; it has:\n\(lines.raw.joined(separator: "\n").suffix(2000))")
    }
    return event
}

/// Waits until the SQLite handler's database at `path` holds the event `transactionID`
/// (delivery from the spool runs after the answer) and returns the stored event's JSON,
/// after checking that its contact row exists.
func waitForSQLiteEvent(_ path: String, transactionID: String, in directory: TestDirectory, timeout: Double = 30) async throws -> [String: Any] {
    let query = "SELECT c.email FROM events e JOIN contacts c USING (contact_key) WHERE e.transaction_id = '\(transactionID)'"
    let found = try await offload {
        poll(timeout: timeout) {
            pathExists(path) && !((try? sqliteQuery(path, query, in: directory)) ?? []).isEmpty
        }
    }
    guard found else {
        let events = pathExists(path) ? ((try? sqliteQuery(path, "SELECT transaction_id FROM events", in: directory)) ?? []) : []
        throw TestFailure("\(path) never stored transaction \(transactionID) within \(timeout) s; events: \(events)")
    }
    let json = try sqliteQuery(path, "SELECT json FROM events WHERE transaction_id = '\(transactionID)'", in: directory)
    return try jsonObject(json.joined(separator: "\n"))
}

/// Checks an event stored by send-test: its sample contact and every section it sends.
func expectSendTestEvent(_ event: [String: Any], transactionID: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(event["transactionid"] as? String == transactionID, sourceLocation: sourceLocation)
    let contact = event["contact"] as? [String: Any]
    #expect(contact?["email"] as? String == "ann.example@example.com", "\(event)", sourceLocation: sourceLocation)
    let fields = event["fields"] as? [[String: Any]] ?? []
    #expect(fields.map { $0["name"] as? String } == ["First Name", "Last Name", "City", "Notes"], "\(event)", sourceLocation: sourceLocation)
    #expect((event["lead-status"] as? [[String: Any]])?.first?["label"] as? String == "Warm", "\(event)", sourceLocation: sourceLocation)
}

// MARK: - A private nginx with a site of the test's own

/// `nginx -p DIR -c DIR/nginx.conf -g 'daemon off;'` serving one `server { … }` whose body
/// the test gives (a recipe, an `include` of init's snippet), with a document root of
/// its own. As root the workers run as www-data, the group the listener's socket gets.
final class NginxSite: Sendable {
    let process: ChildProcess
    let port: Int
    let prefix: String
    /// The site's document root (static files nginx serves).
    let documentRoot: String

    private init(process: ChildProcess, port: Int, prefix: String, documentRoot: String) {
        self.process = process
        self.port = port
        self.prefix = prefix
        self.documentRoot = documentRoot
    }

    /// `http://127.0.0.1:PORT`.
    var url: String { "http://127.0.0.1:\(port)" }

    /// Starts nginx with `serverBody` inside the server block (after `listen`, `root`) and
    /// waits until it answers; another port is tried if the chosen one got taken.
    static func start(in directory: TestDirectory, name: String = "nginx", serverBody: String) async throws -> NginxSite {
        let binary = try tool("nginx", package: "nginx-light")
        let prefix = try directory.folder(name)
        try directory.folder("\(name)/logs")
        try directory.folder("\(name)/tmp")
        let documentRoot = try directory.folder("\(name)-www")
        try "static file\n".write(toFile: "\(documentRoot)/index.html", atomically: false, encoding: .utf8)
        // `include fastcgi_params;` in the recipes resolves beside nginx.conf.
        guard FileManager.default.fileExists(atPath: "/etc/nginx/fastcgi_params") else {
            throw TestFailure("/etc/nginx/fastcgi_params is missing: apt-get install -y nginx-common")
        }
        if !FileManager.default.fileExists(atPath: "\(prefix)/fastcgi_params") {
            try FileManager.default.copyItem(atPath: "/etc/nginx/fastcgi_params", toPath: "\(prefix)/fastcgi_params")
        }
        var lastError: Error = TestFailure("no attempt")
        for attempt in 1...5 {
            let port = try Network.freePort()
            let conf = try directory.write("\(name)/nginx.conf", """
                \(WebServerUser.name.map { "user \($0) \($0);" } ?? "# not root: the workers keep our user")
                worker_processes 1;
                pid \(prefix)/nginx.pid;
                error_log \(prefix)/logs/error.log info;
                events { worker_connections 512; }
                http {
                    access_log \(prefix)/logs/access.log;
                    default_type application/octet-stream;
                    types { text/html html; }
                    client_body_temp_path \(prefix)/tmp/body;
                    fastcgi_temp_path \(prefix)/tmp/fastcgi;
                    proxy_temp_path \(prefix)/tmp/proxy;
                    scgi_temp_path \(prefix)/tmp/scgi;
                    uwsgi_temp_path \(prefix)/tmp/uwsgi;
                    server {
                        listen 127.0.0.1:\(port);
                        server_name localhost;
                        root \(documentRoot);
                \(serverBody)
                    }
                }

                """)
            let process = try ChildProcess(
                name: "nginx", executable: binary,
                arguments: ["-p", prefix + "/", "-c", conf, "-e", "\(prefix)/logs/error.log", "-g", "daemon off;"],
                environment: childEnvironment(), directory: prefix,
                stdoutPath: "\(prefix)/logs/stdout.\(attempt).log", stderrPath: "\(prefix)/logs/stderr.\(attempt).log")
            let site = NginxSite(process: process, port: port, prefix: prefix, documentRoot: documentRoot)
            let ready = try await offload { poll(timeout: 30) { !process.isRunning || Network.isListening(port: port, processTree: process.pid) } }
            if ready && process.isRunning { return site }
            process.stop(signal: SIGKILL)
            lastError = TestFailure("nginx did not start on 127.0.0.1:\(port)\n\(site.diagnostics())")
            if !(site.errorLog + process.stderr).contains("in use") { throw lastError }
        }
        throw lastError
    }

    var errorLog: String { readText("\(prefix)/logs/error.log") }

    func diagnostics() -> String {
        let tail = errorLog.split(separator: "\n").suffix(15).joined(separator: "\n")
        return "\(process.diagnostics())\n--- nginx error.log (end) ---\n\(tail)"
    }

    /// SIGTERM to the master, by PID (SIGKILL after a timeout).
    func stop() { process.stop(signal: SIGTERM, timeout: 10) }

    /// `stop()` on a thread of its own.
    func stopAsync() async throws { _ = try await process.stopAsync(signal: SIGTERM, timeout: 10) }
}

// MARK: - A `serve` listener with the test's own YAML

/// Starts `contact-listener serve --config CONFIG` (the config names its own `listen:`)
/// and waits until its log says it listens; `executable` runs another binary.
func startServe(
    in directory: TestDirectory, configPath: String, socketPath: String? = nil, executable: String? = nil,
    environment: [String: String] = [:]
) async throws -> ChildProcess {
    let binary = try executable ?? ListenerBinary.path()
    let number = SpoolSequence.next()
    let process = try ChildProcess(
        name: "listener", executable: binary, arguments: ["serve", "--config", configPath],
        environment: childEnvironment(environment), directory: directory.path,
        stdoutPath: directory.file("serve-\(number).out"), stderrPath: directory.file("serve-\(number).log"))
    let ready = try await offload {
        poll(timeout: 30) {
            if !process.isRunning { return true }
            if let socketPath, !pathExists(socketPath) { return false }
            return process.stderr.contains("listening")
        }
    }
    guard ready, process.isRunning else {
        process.stop(signal: SIGKILL)
        throw TestFailure("the listener did not become ready\n\(process.diagnostics())")
    }
    return process
}

/// The PIDs of running processes whose executable is `path` (to prove a web server
/// stopped what it spawned, and to end what it left behind, by PID).
func processes(runningExecutable path: String) -> [pid_t] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    return entries.compactMap { entry -> pid_t? in
        guard let pid = pid_t(entry) else { return nil }
        guard let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe") else { return nil }
        // A replaced file shows as "PATH (deleted)".
        return exe == path || exe == "\(path) (deleted)" ? pid : nil
    }
}

/// The mode bits of `path` (`stat`), or nil.
func fileMode(_ path: String) -> mode_t? {
    var status = stat()
    guard stat(path, &status) == 0 else { return nil }
    return status.st_mode & 0o7777
}
