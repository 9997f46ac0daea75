import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The systemd units of deploy/systemd. `systemd-analyze verify` checks
/// them; systemd itself (PID 1) doesn't run in a container, so the socket activation they
/// describe is run with systemd's own `systemd-socket-activate` (fd 3, LISTEN_FDS), as an
/// unprivileged user in no group, like DynamicUser=yes.
@Suite("Deploy: systemd units")
struct DeploySystemdTests {
    static let installedBinary = "/usr/local/bin/contact-listener"

    /// Why `systemd-analyze` can't run here, or nil when it can.
    static func analyzeUnavailable(in directory: TestDirectory) -> (tool: String?, reason: String?) {
        guard let analyze = try? tool("systemd-analyze", package: "systemd") else {
            return (nil, "systemd-analyze is not installed (apt-get install -y systemd)")
        }
        guard let version = try? runCommand(["--version"], in: directory, executable: analyze, timeout: 30),
              version.exit == .exited(0) else {
            return (nil, "systemd-analyze --version does not run in this container")
        }
        return (analyze, nil)
    }

    @Test("systemd-analyze verify deploy/systemd/contact-listener.service (+ .socket)", .timeLimit(.minutes(2)))
    func analyzeVerify() async throws {
        let directory = try TestDirectory("sd-verify")
        defer { directory.remove() }
        let (found, reason) = Self.analyzeUnavailable(in: directory)
        guard let analyze = found else {
            print("⚠︎ systemd unit check not run: \(reason ?? "?")")
            return
        }
        // The units as shipped: the only complaint may be the binary not installed yet.
        let asShipped = try await runCommandAsync(["verify", DeployRecipe.path("systemd/contact-listener.service"),
                                        DeployRecipe.path("systemd/contact-listener.socket")],
                                       in: directory, executable: analyze, timeout: 60)
        let complaints = asShipped.stderr.split(separator: "\n").filter { !$0.contains("\(Self.installedBinary) is not executable") }
        if asShipped.stderr.contains("Failed to initialize manager") || asShipped.stderr.contains("Failed to setup working directory") {
            print("⚠︎ systemd-analyze verify can't run its manager here: \(asShipped.stderr)")
            return
        }
        #expect(complaints.isEmpty, "systemd-analyze verify complains about the shipped units:\n\(asShipped.stderr)")

        // Installed as the unit's header says (the binary in place): no complaint at all.
        let units = try directory.folder("system")
        try DeployRecipe.render("systemd/contact-listener.service", [(Self.installedBinary, try ListenerBinary.path())])
            .write(toFile: "\(units)/contact-listener.service", atomically: false, encoding: .utf8)
        try DeployRecipe.text("systemd/contact-listener.socket")
            .write(toFile: "\(units)/contact-listener.socket", atomically: false, encoding: .utf8)
        let installed = try await runCommandAsync(["verify", "\(units)/contact-listener.service", "\(units)/contact-listener.socket"],
                                       in: directory, executable: analyze, timeout: 60)
        #expect(installed.exit == .exited(0) && installed.stderr.isEmpty, "systemd-analyze verify: \(installed)")
    }

    /// `Key=value` lines of a unit's section (the last one wins, as in systemd).
    static func unitSettings(_ text: String) -> [String: String] {
        var settings: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            settings[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return settings
    }

    @Test("socket activation as the units describe it: fd 3 from systemd-socket-activate, a user in no group, secrets from the EnvironmentFile",
          .timeLimit(.minutes(2)))
    func socketActivation() async throws {
        let directory = try TestDirectory("sd-activate")
        defer { directory.remove() }
        let activate = try tool("systemd-socket-activate", package: "systemd")
        let service = Self.unitSettings(try DeployRecipe.text("systemd/contact-listener.service"))
        let socketUnit = Self.unitSettings(try DeployRecipe.text("systemd/contact-listener.socket"))
        #expect(service["DynamicUser"] == "yes" && service["StateDirectory"] == "contact-listener")
        #expect(socketUnit["SocketMode"] == "0660" && socketUnit["SocketGroup"] == "www-data")
        let execStart = try #require(service["ExecStart"])
        let environmentFile = try #require(service["EnvironmentFile"], "the service gets its secrets from an EnvironmentFile")
        let listenStream = try #require(socketUnit["ListenStream"])

        // The install steps of the unit's header, below a private root: /etc/contact-listener
        // 0755 with a world-readable config without secrets, secrets.env 0600, the state
        // directory owned by the (dynamic) user.
        let root = directory.path
        try directory.folder("etc/contact-listener")
        let state = try directory.folder("var/lib/contact-listener")
        let dynamicUID: uid_t = Network.isRoot ? 61_999 : getuid()
        chown(state, dynamicUID, dynamicUID)
        chmod(state, 0o750)
        let token = randomHex(16)
        let configPath = try directory.write("etc/contact-listener/contact-listener.yaml", """
            verify:
              token: "${LISTENER_TOKEN}"
            spool: /var/lib/contact-listener/spool.db
            handlers:
              - type: sqlite
                path: /var/lib/contact-listener/contacts.db

            """.replacingOccurrences(of: "/var/lib/contact-listener", with: state))
        chmod(configPath, 0o644)
        let secrets = root + environmentFile.trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        try "LISTENER_TOKEN=\(token)\n".write(toFile: secrets, atomically: false, encoding: .utf8)
        chmod(secrets, 0o600)
        let socket = root + listenStream
        try directory.folder(URL(fileURLWithPath: listenStream).deletingLastPathComponent().path.trimmingCharacters(in: CharacterSet(charactersIn: "/")))

        // ExecStart, with the binary and the paths moved below the private root. systemd
        // reads the EnvironmentFile as root: so does this test, into `-E`.
        var command = execStart.split(separator: " ").map(String.init)
        #expect(command.first == Self.installedBinary)
        command[0] = try ListenerBinary.path()
        command = command.map { $0.hasPrefix("/etc/") ? root + $0 : $0 }
        var arguments = ["-l", socket]
        for line in readText(secrets).split(separator: "\n") { arguments += ["-E", String(line)] }
        arguments.append("--")
        if Network.isRoot {
            arguments += [try tool("setpriv", package: "util-linux"), "--reuid", String(dynamicUID), "--regid", String(dynamicUID), "--clear-groups", "--"]
        }
        arguments += command
        let process = try ChildProcess(
            name: "systemd-socket-activate", executable: activate, arguments: arguments, environment: childEnvironment(),
            directory: "/", stdoutPath: directory.file("activate.out"), stderrPath: directory.file("activate.log"))
        defer { process.stop() }
        let listening = try await offload { poll(timeout: 20) { !process.isRunning || pathExists(socket) } }
        try #require(listening && process.isRunning, "\(process.diagnostics())")
        // SocketMode=0660, SocketGroup=www-data (systemd-socket-activate leaves them to us).
        chmod(socket, 0o660)
        if let group = WebServerUser.name.flatMap({ getgrnam($0) }) { chown(socket, 0, group.pointee.gr_gid) }

        let site = try DeployRecipe.render("nginx/contact-listener.conf", [("/run/contact-listener/listener.sock", socket)])
        let nginx = try await NginxSite.start(in: directory, serverBody: site)
        defer { nginx.stop() }
        // The first connection starts the service (on demand, as the socket unit does).
        let id = try await expectSendTestStored("\(nginx.url)/contact-listener", token: token, in: directory,
                                          diagnostics: "\(nginx.diagnostics())\n\(process.diagnostics())")
        let event = try await waitForSQLiteEvent("\(state)/contacts.db", transactionID: id, in: directory)
        expectSendTestEvent(event, transactionID: id)
        #expect(process.stderr.contains("on=\"inherited socket on fd 3\""), "\(process.diagnostics())")
        if Network.isRoot {
            let uid = readText("/proc/\(process.pid)/status").split(separator: "\n").first { $0.hasPrefix("Uid:") }
            #expect(uid?.split(separator: "\t").dropFirst().first.map(String.init) == String(dynamicUID), "\(uid ?? "?")")
        }

        try await nginx.stopAsync()
        #expect(try await process.stopAsync() == .exited(0), "\(process.diagnostics())")
        // The socket belongs to systemd (the socket unit), not to the service: it stays.
        #expect(pathExists(socket))
    }
}
