import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What `contact-listener init` prints, followed literally, works.
@Suite("Deploy: init, followed literally")
struct DeployInitTests {
    /// The one capture of `regex` in `text`, or a failure quoting the text.
    static func capture(_ regex: Regex<(Substring, Substring)>, in text: String, _ what: String) throws -> String {
        guard let match = text.firstMatch(of: regex) else { throw TestFailure("init printed no \(what):\n\(text)") }
        return String(match.1)
    }

    /// Runs `as www-data` when root (what suEXEC or cron's `crontab -u` would do).
    static func asSiteUser(_ arguments: [String]) throws -> (String, [String]) {
        guard Network.isRoot, let user = WebServerUser.name else { return (arguments[0], Array(arguments.dropFirst())) }
        return (try tool("setpriv", package: "util-linux"),
                ["--reuid", user, "--regid", user, "--clear-groups", "--"] + arguments)
    }

    @Test("init --nginx DIR: serve + the printed nginx include + the printed send-test store the contact",
          .timeLimit(.minutes(3)))
    func initNginx() async throws {
        let directory = try TestDirectory("init-nginx")
        defer { directory.remove() }
        let target = directory.file("srv")
        let binary = try ListenerBinary.path()
        let initialized = try await runCommandAsync(["init", "--nginx", target], in: directory)
        try #require(initialized.exit == .exited(0), "\(initialized)")
        let output = initialized.stdout

        // As root the web server's group is www-data, and the socket gets it.
        let config = readText("\(target)/contact-listener.yaml")
        if let group = WebServerUser.name { #expect(config.contains("socket_group: \(group)"), "\(config)") }
        #expect(fileMode("\(target)/contact-listener.yaml") == 0o600)

        // 1. "Start the listener:   contact-listener serve --config DIR/contact-listener.yaml"
        let serveLine = try Self.capture(/Start the listener:\s+contact-listener (serve --config \S+)/, in: output, "serve command")
        let serveArguments = serveLine.split(separator: " ").map(String.init)
        #expect(serveArguments == ["serve", "--config", "\(target)/contact-listener.yaml"])
        let socket = "\(target)/run/listener.sock"
        let number = SpoolSequence.next()
        let listener = try ChildProcess(
            name: "listener", executable: binary, arguments: serveArguments, environment: childEnvironment(),
            directory: directory.path, stdoutPath: directory.file("serve-\(number).out"), stderrPath: directory.file("serve-\(number).log"))
        defer { listener.stop() }
        let ready = try await offload { poll(timeout: 30) { !listener.isRunning || (pathExists(socket) && listener.stderr.contains("listening")) } }
        try #require(ready && listener.isRunning, "\(listener.diagnostics())")

        // 2. "In your nginx site:   include DIR/nginx-contact-listener.conf;"
        let include = try Self.capture(/In your nginx site:\s+(include \S+;)/, in: output, "nginx include line")
        #expect(include == "include \(target)/nginx-contact-listener.conf;")
        let nginx = try await NginxSite.start(in: directory, serverBody: include)
        defer { nginx.stop() }

        // 3./4. The URL for the platform and the send-test line, with the host replaced.
        let platformURL = try Self.capture(/\n\s+(https:\/\/YOUR-SERVER\/\S+\?token=\S+)\n/, in: output, "platform URL")
        let sendLine = try Self.capture(/\n\s+contact-listener (send-test \S+ --token \S+)\n/, in: output, "send-test command")
        let local = { (text: String) in text.replacingOccurrences(of: "https://YOUR-SERVER", with: nginx.url) }
        let sendArguments = local(sendLine).split(separator: " ").map(String.init)
        let sent = try await runCommandAsync(sendArguments, in: directory, timeout: 60)
        #expect(sent.exit == .exited(0) && sent.stdout.contains("✓ stored"), "\(sent)\n\(nginx.diagnostics())\n\(listener.diagnostics())")
        let id = try #require(sent.stdout.firstMatch(of: /transaction (send-test-[A-Za-z0-9_-]+)/).map { String($0.1) }, "\(sent)")
        let event = try await waitForSQLiteEvent("\(target)/data/contacts.db", transactionID: id, in: directory)
        expectSendTestEvent(event, transactionID: id)

        // The platform's URL itself (a POST as the platform sends it) is stored too.
        let platform = try await curlRequest(local(platformURL), method: "POST", body: contactForm("init-platform-1"),
                                       contentType: "application/x-www-form-urlencoded", in: directory)
        #expect(platform.status == 200, "\(platform)")
        _ = try await waitForSQLiteEvent("\(target)/data/contacts.db", transactionID: "init-platform-1", in: directory)

        // The status page and ping that init configured are reachable through its snippet.
        let secretPath = try Self.capture(/https:\/\/YOUR-SERVER(\/contact-listener-[0-9a-f]+)\?/, in: output, "secret path")
        let token = try Self.capture(/\?token=([0-9a-f]+)/, in: output, "token")
        let status = try await curlRequest("\(nginx.url)\(secretPath)/status?json&token=\(token)", in: directory)
        #expect(status.status == 200, "\(status)")
        #expect(((try? status.json())?["requests"] as? [String: Any])?["200"] as? Int == 2, "\(status)")
        let ping = try await curlRequest("\(nginx.url)\(secretPath)/ping", in: directory)
        #expect(ping.status == 200 && ping.body == "pong\n", "\(ping)")

        try await nginx.stopAsync()
        #expect(try await listener.stopAsync() == .exited(0), "\(listener.diagnostics())")
    }

    @Test("init --cgi DIR: the folder it writes works under Apache CGI with its .htaccess; the printed cron drain runs",
          .timeLimit(.minutes(60)))
    func initCGI() async throws {
        let directory = try TestDirectory("init-cgi")
        defer { directory.remove() }
        // Shared hosting gets the release binary (the static one when it builds here).
        let build = try await DeployRelease.build()
        let binary: String
        if let tarball = build.tarball {
            binary = "\(try await offload { try DeployRelease.unpack(tarball, into: directory) })/contact-listener"
        } else {
            print("⚠︎ init --cgi runs the dynamic release build: the static build failed (see the shared-hosting test)")
            binary = try #require(build.binary)
        }
        try directory.folder("apache-www")
        let target = directory.file("apache-www/site-cgi")
        let initialized = try await runCommandAsync(["init", "--cgi", target], in: directory, executable: binary)
        try #require(initialized.exit == .exited(0), "\(initialized)")
        let output = initialized.stdout
        #expect(try FileManager.default.contentsOfDirectory(atPath: target).sorted()
                == [".htaccess", "contact-listener.cgi", "contact-listener.yaml", "data"])
        #expect(fileMode("\(target)/contact-listener.cgi") == 0o755 && fileMode(target) == 0o755,
                "suEXEC wants 755 for the script and its folder")
        #expect(fileMode("\(target)/contact-listener.yaml") == 0o600)
        // "Upload the folder's files into a folder of your site": owned by the site's user.
        try WebServerUser.own(target)

        let apache = try await ApacheServer.startForSharedHosting(in: directory, folder: target)
        defer { apache.stop() }

        let sendLine = try Self.capture(/\n\s+contact-listener (send-test \S+ --token \S+)\n/, in: output, "send-test command")
        #expect(sendLine.contains("https://YOUR-SERVER/PATH-OF-site-cgi/contact-listener.cgi"), "\(sendLine)")
        let sendArguments = sendLine.replacingOccurrences(of: "https://YOUR-SERVER/PATH-OF-site-cgi", with: "\(apache.url)/site-cgi")
            .split(separator: " ").map(String.init)
        let sent = try await runCommandAsync(sendArguments, in: directory, executable: binary, timeout: 60)
        #expect(sent.exit == .exited(0) && sent.stdout.contains("✓ stored"), "\(sent)\n\(apache.diagnostics())")
        let id = try #require(sent.stdout.firstMatch(of: /transaction (send-test-[A-Za-z0-9_-]+)/).map { String($0.1) }, "\(sent)")
        let event = try await waitForSQLiteEvent("\(target)/data/contacts.db", transactionID: id, in: directory)
        expectSendTestEvent(event, transactionID: id)

        for path in ["contact-listener.yaml", "data/contacts.db", "data/spool.db", "data/"] {
            let response = try await curlRequest("\(apache.url)/site-cgi/\(path)", in: directory)
            #expect([403, 404].contains(response.status), "GET \(path) answered \(response)")
        }

        // "Optional, for retries: crontab line  * * * * * DIR/contact-listener.cgi drain --config DIR/…"
        let cron = try Self.capture(/crontab line\s+\* \* \* \* \* (\S+ drain --config \S+)/, in: output, "cron line")
        let (executable, arguments) = try Self.asSiteUser(cron.split(separator: " ").map(String.init))
        let drained = try await runCommandAsync(arguments, in: directory, executable: executable, timeout: 60)
        #expect(drained.exit == .exited(0), "\(drained)")
        #expect(try await apache.stopAsync() == .exited(0), "\(apache.diagnostics())")
    }
}
