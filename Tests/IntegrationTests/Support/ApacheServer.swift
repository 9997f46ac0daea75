import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A private Apache: `apache2 -d DIR -f DIR/apache2.conf -DFOREGROUND` with a minimal
/// apache2.conf of our own that loads only the modules a test names from
/// /usr/lib/apache2/modules, on a free loopback port, with its own pid file, runtime
/// folder, logs and document root. The system's Apache (its config in /etc/apache2, its
/// service, its pid file) is never used: Debian's `apache2-bin` ships the binary and the
/// modules without starting anything. Stopped by PID (SIGTERM to the parent, which stops
/// its children, mod_cgid's daemon and mod_fcgid's processes).
final class ApacheServer: Sendable {
    let process: ChildProcess
    let port: Int
    /// The ServerRoot: apache2.conf, logs/, run/.
    let root: String
    /// The DocumentRoot.
    let documentRoot: String

    private init(process: ChildProcess, port: Int, root: String, documentRoot: String) {
        self.process = process
        self.port = port
        self.root = root
        self.documentRoot = documentRoot
    }

    /// `http://127.0.0.1:PORT`.
    var url: String { "http://127.0.0.1:\(port)" }

    static let modulesFolder = "/usr/lib/apache2/modules"

    /// The modules every test gets: the MPM, access control, handlers by extension,
    /// Alias/ScriptAlias/RedirectMatch, DirectoryIndex.
    static let baseModules = ["mpm_event", "authz_core", "authz_host", "mime", "alias", "dir"]

    /// Starts Apache with `baseModules` + `modules` and `site` (recipe text, `<Directory>`
    /// blocks) appended to the main config; waits until it answers on its port.
    /// `documentRootOverride: "All"` allows every .htaccess under the document root.
    static func start(in directory: TestDirectory, name: String = "apache", modules: [String], site: String) async throws -> ApacheServer {
        let binary = try apacheBinary()
        let root = try directory.folder(name)
        try directory.folder("\(name)/logs")
        let runtime = try directory.folder("\(name)/run")
        let documentRoot = try directory.folder("\(name)-www")
        try "static file\n".write(toFile: "\(documentRoot)/index.html", atomically: false, encoding: .utf8)
        try "".write(toFile: "\(root)/mime.types", atomically: false, encoding: .utf8)
        for module in baseModules + modules where !FileManager.default.fileExists(atPath: "\(modulesFolder)/mod_\(module).so") {
            let package = module == "fcgid" ? "libapache2-mod-fcgid" : "apache2-bin"
            throw TestFailure("\(modulesFolder)/mod_\(module).so is missing: apt-get install -y \(package)")
        }
        // mod_cgid's daemon and the workers run as www-data: the runtime folder (cgid's
        // socket) must be theirs too.
        try WebServerUser.own(runtime)
        var lastError: Error = TestFailure("no attempt")
        for attempt in 1...5 {
            let port = try Network.freePort()
            let loads = (baseModules + modules).map { "LoadModule \($0)_module \(modulesFolder)/mod_\($0).so" }
            let conf = try directory.write("\(name)/apache2.conf", """
                # A private Apache for one test (written by the integration tests).
                ServerRoot \(root)
                ServerName localhost
                Listen 127.0.0.1:\(port)
                PidFile \(runtime)/apache2.pid
                DefaultRuntimeDir \(runtime)
                Mutex file:\(runtime) default
                ErrorLog \(root)/logs/error.log
                LogLevel info
                LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
                CustomLog \(root)/logs/access.log common
                TypesConfig \(root)/mime.types
                \(loads.joined(separator: "\n"))
                \(WebServerUser.name.map { "User \($0)\nGroup \($0)" } ?? "# not root: the workers keep our user")
                StartServers 1
                ServerLimit 1
                ThreadsPerChild 25
                MaxRequestWorkers 25
                MinSpareThreads 5
                MaxSpareThreads 25
                \(modules.contains("cgid") ? "ScriptSock \(runtime)/cgid.sock" : "")
                Timeout 60
                KeepAlive Off

                DocumentRoot \(documentRoot)
                <Directory />
                    Options None
                    AllowOverride None
                    Require all denied
                </Directory>
                <Directory \(documentRoot)>
                    Options None
                    AllowOverride None
                    Require all granted
                </Directory>

                \(site)

                """)
            // -t first: a syntax error in a recipe is reported as such, not as "did not start".
            let check = try ChildProcess(
                name: "apache2 -t", executable: binary, arguments: ["-d", root, "-f", conf, "-t"],
                environment: childEnvironment(), directory: root,
                stdoutPath: "\(root)/logs/configtest.out", stderrPath: "\(root)/logs/configtest.err")
            guard try await check.waitForExitAsync(timeout: 30) == .exited(0) else {
                check.stop(signal: SIGKILL)
                throw TestFailure("apache2 -t refused the config \(conf):\n\(check.stderr)\n\(check.stdout)")
            }
            let process = try ChildProcess(
                name: "apache2", executable: binary, arguments: ["-d", root, "-f", conf, "-DFOREGROUND"],
                environment: childEnvironment(), directory: root,
                stdoutPath: "\(root)/logs/stdout.\(attempt).log", stderrPath: "\(root)/logs/stderr.\(attempt).log")
            let server = ApacheServer(process: process, port: port, root: root, documentRoot: documentRoot)
            let ready = try await offload { poll(timeout: 30) { !process.isRunning || Network.isListening(port: port, processTree: process.pid) } }
            if ready && process.isRunning { return server }
            process.stop(signal: SIGKILL)
            lastError = TestFailure("Apache did not start on 127.0.0.1:\(port)\n\(server.diagnostics())")
            if !(server.errorLog + process.stderr).contains("in use") { throw lastError }
        }
        throw lastError
    }

    /// /usr/sbin/apache2 from `apache2-bin`.
    static func apacheBinary() throws -> String {
        try tool("apache2", package: "apache2-bin libapache2-mod-fcgid")
    }

    /// Apache's error log (where CGI and FastCGI programs' stderr lands too).
    var errorLog: String { readText("\(root)/logs/error.log") }

    func diagnostics() -> String {
        let tail = errorLog.split(separator: "\n").suffix(25).joined(separator: "\n")
        return "\(process.diagnostics())\n--- Apache error.log (end) ---\n\(tail)"
    }

    /// SIGTERM to the parent, by PID (SIGKILL after a timeout); returns how it ended.
    @discardableResult
    func stop() -> ExitStatus { process.stop(signal: SIGTERM, timeout: 15) }

    /// `stop()` on a thread of its own.
    func stopAsync() async throws -> ExitStatus { try await process.stopAsync(signal: SIGTERM, timeout: 15) }
}
