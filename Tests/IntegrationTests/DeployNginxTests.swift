import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// deploy/nginx/contact-listener.conf, included as it is in a private
/// nginx (only the socket path substituted), in front of `contact-listener serve` on a
/// unix socket that only the web server's group may open.
@Suite("Deploy: nginx recipe → serve")
struct DeployNginxTests {
    @Test("deploy/nginx/contact-listener.conf → serve (unix socket, socket_group): send-test stores; config not downloadable",
          .timeLimit(.minutes(3)))
    func nginxRecipe() async throws {
        let directory = try TestDirectory("dep-nginx")
        defer { directory.remove() }
        let token = randomHex(16)
        try directory.folder("etc")
        let data = try directory.folder("data")
        let run = try directory.folder("run")
        let socket = "\(run)/listener.sock"
        // The config lives outside the site's root, as the recipe's header describes.
        let configPath = try directory.write("etc/contact-listener.yaml", """
            listen: "unix:\(socket)"
            socket_mode: "0660"
            \(WebServerUser.socketGroupLine)verify:
              token: "\(token)"
            spool: \(data)/spool.db
            handlers:
              - type: sqlite
                path: \(data)/contacts.db

            """)
        let listener = try await startServe(in: directory, configPath: configPath, socketPath: socket)
        defer { listener.stop() }

        // The socket: 0660, the web server's group.
        let attributes = try FileManager.default.attributesOfItem(atPath: socket)
        #expect(attributes[.type] as? FileAttributeType == .typeSocket)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o660)
        if let group = WebServerUser.name { #expect(attributes[.groupOwnerAccountName] as? String == group) }

        let site = try DeployRecipe.render("nginx/contact-listener.conf", [("/run/contact-listener/listener.sock", socket)])
        let nginx = try await NginxSite.start(in: directory, serverBody: site)
        defer { nginx.stop() }
        // The site serves static files (so the refusals below are nginx's own answers).
        let index = try await curlRequest("\(nginx.url)/index.html", in: directory)
        #expect(index.status == 200 && index.body == "static file\n", "\(index)")

        // send-test, the real CLI, as the README tells an operator to check the setup.
        let url = "\(nginx.url)/contact-listener"
        let id = try await expectSendTestStored(url, token: token, in: directory,
                                          diagnostics: "\(nginx.diagnostics())\n\(listener.diagnostics())")
        let event = try await waitForSQLiteEvent("\(data)/contacts.db", transactionID: id, in: directory)
        expectSendTestEvent(event, transactionID: id)
        // The GET shortcode form passes the recipe's limit_except too.
        let getID = try await expectSendTestStored(url, token: token, get: true, in: directory, diagnostics: listener.diagnostics())
        _ = try await waitForSQLiteEvent("\(data)/contacts.db", transactionID: getID, in: directory)

        // Without the token: send-test explains the 401 and exits non-zero.
        let refused = try await sendTest(url, token: nil, in: directory)
        #expect(refused.result.exit == .exited(1), "\(refused)")
        #expect(refused.result.stdout.contains("← 401") && refused.result.stdout.contains("✗ refused"), "\(refused)")

        // Other methods never reach the listener (limit_except GET POST { deny all; }).
        let put = try await curlRequest("\(url)?token=\(token)", method: "PUT", body: "transactionid=put-1",
                                  contentType: "application/x-www-form-urlencoded", in: directory)
        #expect(put.status == 403, "\(put)")
        #expect(!listener.stderr.contains("method=PUT"), "a PUT reached the listener: \(listener.stderr)")

        // The config (with its token) can't be fetched through the site, by any path.
        for path in ["/contact-listener.yaml", "/etc/contact-listener.yaml", "/../etc/contact-listener.yaml",
                     "/contact-listener/../etc/contact-listener.yaml", "/contact-listener/contact-listener.yaml",
                     "/contact-listener.yaml?token=\(token)", "/data/contacts.db", "/run/listener.sock"] {
            let response = try await curlRequest("\(nginx.url)\(path)", in: directory)
            #expect(response.status != 200, "GET \(path) answered \(response)")
            #expect(!response.body.contains(token) && !response.body.contains("verify:"), "GET \(path) leaked the config: \(response)")
        }

        try await nginx.stopAsync()
        let exit = try await listener.stopAsync()
        #expect(exit == .exited(0), "\(listener.diagnostics())")
        #expect(!pathExists(socket), "the listener left its socket behind")
    }

    /// The shell command of deploy/spawn-fcgi/README.md's `sh` block that runs spawn-fcgi:
    /// continuation lines joined, as words.
    static func spawnCommand() throws -> [String] {
        let readme = try DeployRecipe.text("spawn-fcgi/README.md")
        guard let start = readme.range(of: "```sh\n"), let end = readme.range(of: "\n```", range: start.upperBound..<readme.endIndex) else {
            throw TestFailure("deploy/spawn-fcgi/README.md has no ```sh block")
        }
        let joined = readme[start.upperBound..<end.lowerBound].replacingOccurrences(of: "\\\n", with: " ")
        guard let line = joined.split(separator: "\n").first(where: { $0.contains("spawn-fcgi -") }) else {
            throw TestFailure("no spawn-fcgi command in deploy/spawn-fcgi/README.md")
        }
        return line.split(separator: " ").map(String.init)
    }

    /// True while `pid` exists and is not a zombie.
    static func alive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        let state = readText("/proc/\(pid)/status").split(separator: "\n").first { $0.hasPrefix("State:") } ?? ""
        return !state.contains("Z")
    }

    @Test("deploy/spawn-fcgi/README.md: spawn-fcgi as written (its users mapped to nobody), behind the nginx recipe; stopped by its pid file",
          .timeLimit(.minutes(2)))
    func spawnFCGIRecipe() async throws {
        let directory = try TestDirectory("dep-spawn")
        defer { directory.remove() }
        var words = try Self.spawnCommand()
        // CONTACT_LISTENER_CONFIG=/etc/contact-listener/contact-listener.yaml spawn-fcgi -s … -- /usr/local/bin/contact-listener
        let assignment = try #require(words.first { $0.hasPrefix("CONTACT_LISTENER_CONFIG=") }, "\(words)")
        #expect(assignment == "CONTACT_LISTENER_CONFIG=/etc/contact-listener/contact-listener.yaml")
        words.removeAll { $0 == assignment }
        #expect(words.first == "spawn-fcgi" && words.last == "/usr/local/bin/contact-listener", "\(words)")
        let token = randomHex(16)
        // `install -d -m 750 -g contact-listener /etc/contact-listener`, config 640 likewise.
        let etc = try directory.folder("etc")
        chmod(etc, 0o750)
        if Network.isRoot, let nogroup = getgrnam("nogroup") { chown(etc, 0, nogroup.pointee.gr_gid) }
        let readme = try DeployRecipe.text("spawn-fcgi/README.md")
        #expect(readme.contains("install -m 640 -g contact-listener contact-listener.yaml /etc/contact-listener/"))
        #expect(readme.contains("install -d -m 755 /run/contact-listener"), "spawn-fcgi can't bind in a folder that doesn't exist")
        let state = try directory.folder("state")
        let run = try directory.folder("run")
        // The README's service user (`useradd --system … contact-listener`) is played by
        // nobody:nogroup: its home holds the data; the config is readable by its group.
        let serviceUser = Network.isRoot ? "nobody" : nil
        if Network.isRoot, let nobody = getpwnam("nobody") { chown(state, nobody.pointee.pw_uid, nobody.pointee.pw_gid) }
        let configPath = try directory.write("etc/contact-listener.yaml", """
            verify:
              token: "\(token)"
            spool: \(state)/spool.db
            handlers:
              - type: sqlite
                path: \(state)/contacts.db

            """)
        chmod(configPath, 0o640)
        if Network.isRoot, let nogroup = getgrnam("nogroup") { chown(configPath, 0, nogroup.pointee.gr_gid) }
        let socket = "\(run)/listener.sock"
        let pidFile = "\(run)/spawn.pid"
        var arguments: [String] = []
        var index = 1
        while index < words.count {
            let word = words[index]
            let value = index + 1 < words.count ? words[index + 1] : ""
            switch word {
            case "-U", "-u", "-g", "-G":
                // Switching users needs root; the names map onto this machine's.
                if let serviceUser {
                    let mapped = value == "contact-listener" ? (word == "-g" ? "nogroup" : serviceUser) : value
                    arguments += [word, mapped]
                }
                index += 2
                continue
            case "-s": arguments += [word, value.replacingOccurrences(of: "/run/contact-listener/listener.sock", with: socket)]; index += 2; continue
            case "-P": arguments += [word, value.replacingOccurrences(of: "/run/contact-listener/spawn.pid", with: pidFile)]; index += 2; continue
            case "/usr/local/bin/contact-listener": arguments.append(try ListenerBinary.path())
            default: arguments.append(word)
            }
            index += 1
        }
        #expect(arguments.contains("-M") && arguments.contains("0660") && arguments.contains("-P"), "\(arguments)")
        // Without -n spawn-fcgi forks the listener, writes its pid and exits.
        let spawner = try ChildProcess(
            name: "spawn-fcgi", executable: try tool("spawn-fcgi", package: "spawn-fcgi"), arguments: arguments,
            environment: childEnvironment(["CONTACT_LISTENER_CONFIG": configPath]), directory: directory.path,
            stdoutPath: directory.file("spawn.out"), stderrPath: directory.file("spawn.log"))
        let spawned = try await spawner.waitForExitAsync(timeout: 30)
        try #require(spawned == .exited(0), "\(spawner.diagnostics())")
        let pid = try #require(pid_t(readText(pidFile).trimmingCharacters(in: .whitespacesAndNewlines)), "no pid in \(pidFile)")
        defer { if Self.alive(pid) { kill(pid, SIGKILL) } }
        let attributes = try FileManager.default.attributesOfItem(atPath: socket)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o660)
        if Network.isRoot { #expect(attributes[.groupOwnerAccountName] as? String == "www-data", "\(attributes)") }

        let site = try DeployRecipe.render("nginx/contact-listener.conf", [("/run/contact-listener/listener.sock", socket)])
        let nginx = try await NginxSite.start(in: directory, serverBody: site)
        defer { nginx.stop() }
        let id = try await expectSendTestStored("\(nginx.url)/contact-listener", token: token, in: directory,
                                          diagnostics: "\(nginx.diagnostics())\n\(readText(directory.file("spawn.log")))")
        let event = try await waitForSQLiteEvent("\(state)/contacts.db", transactionID: id, in: directory)
        expectSendTestEvent(event, transactionID: id)

        // `kill "$(cat /run/contact-listener/spawn.pid)"` stops it.
        kill(pid, SIGTERM)
        let stopped = try await offload { poll(timeout: 20) { !Self.alive(pid) } }
        #expect(stopped, "the listener (pid \(pid)) did not stop on SIGTERM")
    }
}
