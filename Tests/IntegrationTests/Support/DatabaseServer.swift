import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A private PostgreSQL or MariaDB server for one test: its own data folder under the
/// test's directory, on a free loopback port, never the system's service. As root the
/// server runs as its Debian system user (`postgres`, `mysql`): both refuse to run as root.
/// `stop()` ends it by PID (call it from a `defer`); `start()` brings it back on the same
/// port and data, for restart tests.
final class DatabaseServer: @unchecked Sendable {
    /// Which server.
    enum Kind: String, Sendable {
        case postgres
        case mariadb
    }

    /// The database the handlers use.
    static let database = "contacts"

    let kind: Kind
    /// The data folder.
    let dataDirectory: String
    /// MariaDB's temporary-table folder: private, because bootstraps sharing /tmp with the rest
    /// of a busy machine failed in CI ("Could not remove temporary table '/tmp/#sql-temptable-…'").
    /// Made by `initialize()`.
    private var temporaryDirectory: String { directory.file(Self.temporaryFolder) }
    private static let temporaryFolder = "mariadb-tmp"
    private let directory: TestDirectory
    private let lock = NSLock()
    private var process: ChildProcess?
    private var port = 0
    private var starts = 0

    private init(kind: Kind, directory: TestDirectory) throws {
        self.kind = kind
        self.directory = directory
        dataDirectory = try directory.folder(kind.rawValue)
    }

    /// Starts private PostgreSQL and MariaDB servers side by side; if one fails, the other
    /// is stopped before the error is thrown. Stop both when done.
    static func startPostgresAndMariaDB(in directory: TestDirectory) async throws -> (postgres: DatabaseServer, mariadb: DatabaseServer) {
        async let startedPostgres = start(.postgres, in: directory)
        async let startedMariaDB = start(.mariadb, in: directory)
        let postgres: DatabaseServer
        do {
            postgres = try await startedPostgres
        } catch {
            (try? await startedMariaDB)?.stop()
            throw error
        }
        do {
            return (postgres, try await startedMariaDB)
        } catch {
            postgres.stop()
            throw error
        }
    }

    /// Creates the data folder, starts the server and creates `database`.
    static func start(_ kind: Kind, in directory: TestDirectory) async throws -> DatabaseServer {
        let server = try DatabaseServer(kind: kind, directory: directory)
        try await offload {
            try server.initialize()
            var lastError: Error = TestFailure("no attempt")
            for _ in 1...5 {
                server.setPort(try Network.freePort())
                do {
                    try server.launch()
                    try server.createDatabase()
                    return
                } catch {
                    lastError = error
                    server.stop()
                    // Only a port taken meanwhile by someone else is worth another try.
                    if !server.log.contains("already in use") && !server.log.contains("Address in use") { throw error }
                }
            }
            throw lastError
        }
        return server
    }

    /// The handler's `url:`.
    var url: String {
        switch kind {
        case .postgres: return "postgres://postgres@127.0.0.1:\(currentPort)/\(Self.database)"
        case .mariadb: return "mysql://root@127.0.0.1:\(currentPort)/\(Self.database)"
        }
    }

    /// The loopback port.
    var currentPort: Int { lock.withLock { port } }

    /// Starts the server again after `stop()`, on the same port and data.
    func start() async throws {
        try await offload { try self.launch() }
    }

    /// Stops the server by its PID: PostgreSQL's fast shutdown (SIGINT: a smart one would wait
    /// for the handlers' open connections), MariaDB's normal one (SIGTERM). Waits for the exit.
    func stop() {
        let running = lock.withLock { () -> ChildProcess? in
            defer { process = nil }
            return process
        }
        running?.stop(signal: kind == .postgres ? SIGINT : SIGTERM, timeout: 30)
    }

    /// `stop()` without blocking Swift's cooperative threads.
    func stopAsync() async throws {
        try await offload { self.stop() }
    }

    /// What the server logged (all starts).
    var log: String {
        (1...max(1, lock.withLock { starts })).map { readText(directory.file("\(kind.rawValue).\($0).log")) }.joined()
    }

    private func setPort(_ value: Int) { lock.withLock { port = value } }

    /// The command line prefix that runs a program as the server's own user when we are root.
    private func asServerUser(_ executable: String, _ arguments: [String]) throws -> (String, [String]) {
        guard Network.isRoot, kind == .postgres else { return (executable, arguments) }
        return (try tool("setpriv", package: "util-linux"),
                ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", executable] + arguments)
    }

    private func initialize() throws {
        let (executable, arguments): (String, [String])
        switch kind {
        case .postgres:
            let initdb = "/usr/lib/postgresql/15/bin/initdb"
            guard FileManager.default.isExecutableFile(atPath: initdb) else {
                throw TestFailure("\(initdb) is missing; apt-get install -y postgresql")
            }
            if Network.isRoot {
                guard let user = getpwnam("postgres") else { throw TestFailure("no 'postgres' user; apt-get install -y postgresql") }
                guard chown(dataDirectory, user.pointee.pw_uid, user.pointee.pw_gid) == 0 else {
                    throw TestFailure("chown \(dataDirectory) failed")
                }
            }
            (executable, arguments) = try asServerUser(initdb, [
                "-D", dataDirectory, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8",
            ])
        case .mariadb:
            try directory.folder(Self.temporaryFolder)
            // Sticky and world-writable like /tmp: as root the server runs as `mysql`.
            guard chmod(temporaryDirectory, 0o1777) == 0 else { throw TestFailure("chmod \(temporaryDirectory) failed") }
            var installArguments = [
                "--no-defaults", "--datadir=\(dataDirectory)", "--tmpdir=\(temporaryDirectory)", "--skip-test-db",
                "--auth-root-authentication-method=normal", "--innodb-log-file-size=8M", "--innodb-buffer-pool-size=16M",
            ]
            if Network.isRoot { installArguments.append("--user=mysql") }
            (executable, arguments) = (try tool("mariadb-install-db", package: "mariadb-server"), installArguments)
        }
        let setup = try ChildProcess(
            name: "\(kind.rawValue) init", executable: executable, arguments: arguments, environment: childEnvironment(),
            directory: directory.path, stdoutPath: directory.file("\(kind.rawValue)-init.out"),
            stderrPath: directory.file("\(kind.rawValue)-init.log"))
        guard let status = setup.waitForExit(timeout: 90) else {
            setup.stop(signal: SIGKILL)
            throw TestFailure("\(kind.rawValue) initialization did not finish in 90 s\n\(setup.diagnostics())")
        }
        guard status == .exited(0) else { throw TestFailure("\(kind.rawValue) initialization failed: \(status)\n\(setup.diagnostics())") }
    }

    private func launch() throws {
        let port = currentPort
        let attempt = lock.withLock { () -> Int in
            starts += 1
            return starts
        }
        let (executable, arguments): (String, [String])
        switch kind {
        case .postgres:
            (executable, arguments) = try asServerUser("/usr/lib/postgresql/15/bin/postgres", [
                "-D", dataDirectory, "-k", dataDirectory, "-c", "listen_addresses=127.0.0.1", "-p", String(port),
                "-c", "fsync=off", "-c", "shared_buffers=16MB", "-c", "max_connections=40",
            ])
        case .mariadb:
            var serverArguments = [
                "--no-defaults", "--datadir=\(dataDirectory)", "--tmpdir=\(temporaryDirectory)", "--socket=\(dataDirectory)/sock",
                "--port=\(port)",
                "--bind-address=127.0.0.1", "--pid-file=\(dataDirectory)/pid", "--skip-log-bin", "--skip-name-resolve",
                "--innodb-buffer-pool-size=16M", "--innodb-log-file-size=8M", "--innodb-flush-log-at-trx-commit=2",
            ]
            if Network.isRoot { serverArguments.append("--user=mysql") }
            (executable, arguments) = (try tool("mariadbd", package: "mariadb-server"), serverArguments)
        }
        let server = try ChildProcess(
            name: kind.rawValue, executable: executable, arguments: arguments, environment: childEnvironment(),
            directory: directory.path, stdoutPath: directory.file("\(kind.rawValue).\(attempt).out"),
            stderrPath: directory.file("\(kind.rawValue).\(attempt).log"))
        lock.withLock { process = server }
        let ready = poll(timeout: 60) { !server.isRunning || Network.isListening(port: port, processTree: server.pid) }
        guard ready, server.isRunning else {
            throw TestFailure("\(kind.rawValue) did not start listening on 127.0.0.1:\(port)\n\(server.diagnostics())")
        }
        // Listening is not yet accepting queries (PostgreSQL: "the database system is starting up").
        var lastError = ""
        let answering = poll(timeout: 60) {
            do {
                _ = try self.client("SELECT 1", database: nil)
                return true
            } catch {
                lastError = "\(error)"
                usleep(100_000)
                return !server.isRunning
            }
        }
        guard answering, server.isRunning else {
            throw TestFailure("\(kind.rawValue) did not answer queries: \(lastError)\n\(server.diagnostics())")
        }
    }

    private func createDatabase() throws {
        _ = try client("CREATE DATABASE \(Self.database)", database: nil)
    }

    /// Runs `sql` with the server's command-line client and returns its output.
    @discardableResult
    func client(_ sql: String, database: String? = DatabaseServer.database) throws -> String {
        let port = String(currentPort)
        let (executable, arguments): (String, [String])
        switch kind {
        case .postgres:
            (executable, arguments) = (try tool("psql", package: "postgresql-client"), [
                "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", database ?? "postgres",
                "-v", "ON_ERROR_STOP=1", "-At", "-c", sql,
            ])
        case .mariadb:
            (executable, arguments) = (try tool("mariadb", package: "mariadb-server"), [
                "--no-defaults", "-h", "127.0.0.1", "-P", port, "-u", "root", "-N", "-B", "--connect-timeout=5",
                "-e", sql,
            ] + (database.map { [$0] } ?? []))
        }
        let name = "client-\(UUID().uuidString)"
        let run = try ChildProcess(
            name: "\(kind.rawValue) client", executable: executable, arguments: arguments, environment: childEnvironment(),
            directory: directory.path, stdoutPath: directory.file("\(name).out"), stderrPath: directory.file("\(name).err"))
        defer {
            try? FileManager.default.removeItem(atPath: run.stdoutPath)
            try? FileManager.default.removeItem(atPath: run.stderrPath)
        }
        guard let status = run.waitForExit(timeout: 30) else {
            run.stop(signal: SIGKILL)
            throw TestFailure("\(kind.rawValue) client timed out running \(sql)")
        }
        guard status == .exited(0) else { throw TestFailure("\(kind.rawValue) client failed (\(status)) on \(sql): \(run.stderr)") }
        return run.stdout
    }
}
