import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The Apache recipes of deploy/, each run in a private Apache
/// (`apache2-bin` + `libapache2-mod-fcgid`, our own minimal apache2.conf, a free loopback
/// port), with `contact-listener send-test` as the client.
@Suite("Deploy: Apache recipes")
struct ApacheTests {
    @Test("deploy/apache/proxy-fcgi.conf → serve on a unix socket (group www-data): send-test stores",
          .timeLimit(.minutes(3)))
    func proxyFCGI() async throws {
        let directory = try TestDirectory("ap-proxy")
        defer { directory.remove() }
        let token = randomHex(16)
        let data = try directory.folder("data")
        let run = try directory.folder("run")
        let socket = "\(run)/listener.sock"
        let configPath = try directory.write("contact-listener.yaml", """
            listen: "unix:\(socket)"
            \(WebServerUser.socketGroupLine)verify:
              token: "\(token)"
            handlers:
              - type: jsonl
                path: \(data)/events.jsonl

            """)
        let listener = try await startServe(in: directory, configPath: configPath, socketPath: socket)
        defer { listener.stop() }

        let site = try DeployRecipe.render("apache/proxy-fcgi.conf", [("/run/contact-listener/listener.sock", socket)])
        let apache = try await ApacheServer.start(in: directory, modules: ["proxy", "proxy_fcgi"], site: site)
        defer { apache.stop() }

        let url = "\(apache.url)/contact-listener"
        let id = try await expectSendTestStored(url, token: token, in: directory, diagnostics: "\(apache.diagnostics())\n\(listener.diagnostics())")
        // No spool: the line is on disk before the 200.
        let event = try #require(JSONLines(path: "\(data)/events.jsonl").objects.first { $0["transactionid"] as? String == id },
                                 "\(readText("\(data)/events.jsonl"))")
        expectSendTestEvent(event, transactionID: id)
        #expect((event["meta"] as? [String: Any])?["remote_addr"] as? String == "127.0.0.1", "\(event)")
        let getID = try await expectSendTestStored(url, token: token, get: true, in: directory, diagnostics: apache.diagnostics())
        let getEvent = try #require(JSONLines(path: "\(data)/events.jsonl").objects.first { $0["transactionid"] as? String == getID })
        #expect((getEvent["meta"] as? [String: Any])?["mode"] as? String == "shortcode", "\(getEvent)")

        // `Require method GET POST`: a PUT is Apache's 403 and never reaches the listener.
        let put = try await curlRequest("\(url)?token=\(token)", method: "PUT", body: "transactionid=put-1",
                                  contentType: "application/x-www-form-urlencoded", in: directory)
        #expect(put.status == 403, "\(put)")
        #expect(!listener.stderr.contains("method=PUT"), "\(listener.stderr)")
        #expect(try await apache.stopAsync() == .exited(0), "\(apache.diagnostics())")

        // The recipe's optional allow-list, uncommented: 127.0.0.1 is not the platform's.
        let fenced = try DeployRecipe.render("apache/proxy-fcgi.conf", [
            ("/run/contact-listener/listener.sock", socket), ("# Require ip 203.0.113.0/24", "Require ip 203.0.113.0/24"),
        ])
        let allowList = try await ApacheServer.start(in: directory, name: "apache-allow", modules: ["proxy", "proxy_fcgi"], site: fenced)
        defer { allowList.stop() }
        let outsider = try await sendTest("\(allowList.url)/contact-listener", token: token, in: directory)
        #expect(outsider.result.exit == .exited(1) && outsider.result.stdout.contains("← 403"), "\(outsider)")
        #expect(outsider.result.stdout.contains("refused by the web server"), "\(outsider)")
        #expect(try await allowList.stopAsync() == .exited(0), "\(allowList.diagnostics())")

        #expect(try await listener.stopAsync() == .exited(0), "\(listener.diagnostics())")
    }

    @Test("deploy/apache/fcgid.conf: mod_fcgid spawns the binary (socket on fd 0), send-test stores, bodies over 128 KiB pass",
          .timeLimit(.minutes(3)))
    func fcgid() async throws {
        let directory = try TestDirectory("ap-fcgid")
        defer { directory.remove() }
        let token = randomHex(16)
        // `install -m 755 contact-listener /usr/local/lib/contact-listener/contact-listener.fcgi`
        let lib = try directory.folder("lib")
        let program = "\(lib)/contact-listener.fcgi"
        try FileManager.default.copyItem(atPath: try ListenerBinary.path(), toPath: program)
        chmod(program, 0o755)
        // The process runs as Apache's user: its data folder is that user's, and the config
        // (with the token) is readable by its group only.
        let data = try directory.folder("data")
        try WebServerUser.own(data)
        // `install -d -m 750 -g www-data /etc/contact-listener`, `install -m 640 -g www-data …`
        let etc = try directory.folder("etc")
        let webGroup = WebServerUser.name.flatMap { getgrnam($0) }.map { $0.pointee.gr_gid }
        chmod(etc, 0o750)
        if let webGroup { chown(etc, 0, webGroup) }
        let recipeText = try DeployRecipe.text("apache/fcgid.conf")
        #expect(recipeText.contains("install -d -m 750 -g www-data /etc/contact-listener"), "\(recipeText)")
        #expect(recipeText.contains("install -m 640 -g www-data contact-listener.yaml /etc/contact-listener/contact-listener.yaml"))
        let configPath = try directory.write("etc/contact-listener.yaml", """
            verify:
              token: "\(token)"
            spool: \(data)/spool.db
            handlers:
              - type: jsonl
                path: \(data)/events.jsonl

            """)
        chmod(configPath, 0o640)
        if let webGroup { chown(configPath, 0, webGroup) }
        let fcgid = try directory.folder("fcgid")

        let site = try DeployRecipe.render("apache/fcgid.conf", [
            ("/etc/contact-listener/contact-listener.yaml", configPath),
            ("/usr/local/lib/contact-listener", lib),
            ("# FcgidIPCDir /var/lib/apache2/fcgid/sock", "FcgidIPCDir \(fcgid)/sock"),
            ("# FcgidProcessTableFile /var/lib/apache2/fcgid/fcgid_shm", "FcgidProcessTableFile \(fcgid)/fcgid_shm"),
        ])
        let apache = try await ApacheServer.start(in: directory, modules: ["fcgid"], site: site)
        var apacheStopped = false
        defer {
            if !apacheStopped { apache.stop() }
            // Whatever mod_fcgid left running is ended here, by PID.
            for pid in processes(runningExecutable: program) { kill(pid, SIGKILL) }
        }

        let url = "\(apache.url)/contact-listener"
        let id = try await expectSendTestStored(url, token: token, in: directory, diagnostics: apache.diagnostics())
        let event = try await waitForJSONLine("\(data)/events.jsonl", transactionID: id)
        expectSendTestEvent(event, transactionID: id)

        // mod_fcgid started the binary with no arguments and the socket on fd 0, as www-data.
        #expect(apache.errorLog.contains("on=\"inherited socket on fd 0\""), "\(apache.diagnostics())")
        #expect(apache.errorLog.contains("config=\(configPath)"), "FcgidInitialEnv CONTACT_LISTENER_CONFIG was not used: \(apache.diagnostics())")
        let spawned = processes(runningExecutable: program)
        #expect(!spawned.isEmpty, "no \(program) process runs")
        if Network.isRoot {
            for pid in spawned {
                let uid = readText("/proc/\(pid)/status").split(separator: "\n").first { $0.hasPrefix("Uid:") }
                #expect(uid?.split(separator: "\t").dropFirst().first == "33", "pid \(pid) is not www-data: \(uid ?? "?")")
            }
        }

        // FcgidMaxRequestLen 8388608: a 300 KB body (over mod_fcgid's 131072 default) is stored.
        let big = try await curlRequest("\(url)?token=\(token)", method: "POST",
                                  body: Fixtures.largeForm(size: 300_000, transactionID: "fcgid-big"),
                                  contentType: "application/x-www-form-urlencoded", in: directory)
        #expect(big.status == 200, "\(big)\n\(apache.diagnostics())")
        _ = try await waitForJSONLine("\(data)/events.jsonl", transactionID: "fcgid-big")
        // `Require method GET POST`: a PUT is Apache's 403.
        let put = try await curlRequest("\(url)?token=\(token)", method: "PUT", body: "transactionid=put-1",
                                  contentType: "application/x-www-form-urlencoded", in: directory)
        #expect(put.status == 403, "\(put)")
        #expect(!apache.errorLog.contains("method=PUT"), "a PUT reached the listener")

        // Stopping Apache stops what mod_fcgid spawned (SIGTERM: answer in flight, exit 0).
        #expect(try await apache.stopAsync() == .exited(0), "\(apache.diagnostics())")
        apacheStopped = true
        let gone = try await offload { poll(timeout: 15) { processes(runningExecutable: program).isEmpty } }
        #expect(gone, "mod_fcgid left \(program) running: \(processes(runningExecutable: program))")
        #expect(apache.errorLog.contains("stopped"), "\(apache.diagnostics())")
    }

    @Test("deploy/apache/cgi.conf: ScriptAlias to the binary, config beside it, send-test stores",
          .timeLimit(.minutes(3)))
    func scriptAliasCGI() async throws {
        let directory = try TestDirectory("ap-cgi")
        defer { directory.remove() }
        let token = randomHex(16)
        let cgiBin = try directory.folder("cgi-bin")
        let state = try directory.folder("state")
        try WebServerUser.own(state)
        let program = "\(cgiBin)/contact-listener.cgi"
        // The recipe's install lines, as written there.
        let recipe = try DeployRecipe.text("apache/cgi.conf")
        #expect(recipe.contains("install -m 755 contact-listener /usr/local/lib/cgi-bin/contact-listener.cgi"))
        #expect(recipe.contains("install -m 640 -g www-data contact-listener.yaml /usr/local/lib/cgi-bin/contact-listener.yaml"),
                "the config must be readable by the CGI's user (Apache's group), not root's alone")
        try FileManager.default.copyItem(atPath: try ListenerBinary.path(), toPath: program)
        chmod(program, 0o755)
        let configPath = try directory.write("cgi-bin/contact-listener.yaml", """
            verify:
              token: "\(token)"
            spool: \(state)/spool.db
            handlers:
              - type: jsonl
                path: \(state)/events.jsonl

            """)
        chmod(configPath, 0o640)
        if let group = WebServerUser.name.flatMap({ getgrnam($0) }) { chown(configPath, 0, group.pointee.gr_gid) }

        let site = try DeployRecipe.render("apache/cgi.conf", [("/usr/local/lib/cgi-bin", cgiBin)])
        let apache = try await ApacheServer.start(in: directory, modules: ["cgid"], site: site)
        defer { apache.stop() }

        let url = "\(apache.url)/contact-listener"
        let id = try await expectSendTestStored(url, token: token, in: directory, diagnostics: apache.diagnostics())
        let event = try await waitForJSONLine("\(state)/events.jsonl", transactionID: id)
        expectSendTestEvent(event, transactionID: id)
        let put = try await curlRequest("\(url)?token=\(token)", method: "PUT", body: "a=b",
                                  contentType: "application/x-www-form-urlencoded", in: directory)
        #expect(put.status == 403, "\(put)")
        #expect(try await apache.stopAsync() == .exited(0), "\(apache.diagnostics())")
    }

    @Test("shared hosting: a query without '=' (Apache's CGI argv, CVE-2012-1823's shape) reaches no subcommand, creates and changes nothing",
          .timeLimit(.minutes(3)))
    func cgiCommandLineIsIgnored() async throws {
        let directory = try TestDirectory("ap-argv")
        defer { directory.remove() }
        let site = try SharedHostingSite.install(binary: try ListenerBinary.path(), in: directory)
        let apache = try await ApacheServer.startForSharedHosting(in: directory, folder: site.path)
        defer { apache.stop() }
        let url = site.url(on: apache)
        let token = site.token

        // A real contact first: the data folder and the spool exist, as on a live site.
        let id = try await expectSendTestStored(url, token: token, in: directory, diagnostics: apache.diagnostics())
        _ = try await waitForJSONLine("\(site.path)/data/events.jsonl", transactionID: id)
        // The CGI process delivers after answering; it is done when it has exited.
        let program = "\(site.path)/contact-listener.cgi"
        let settled = try await offload { poll(timeout: 60) { processes(runningExecutable: program).isEmpty } }
        try #require(settled, "the first CGI process still runs: \(processes(runningExecutable: program))")
        let before = try SiteSnapshot(site.path)

        // mod_cgid splits each of these on '+' into argv (mod_cgi.c, default_build_command).
        let queries = ["--help", "--version", "init+--force+x", "init+--cgi+--force+.", "spool+status", "spool+purge+--delivered+--older-than+0s",
                       "drain", "check-config", "send-test+http://127.0.0.1:9/", "decode+--raw", "serve+--listen+127.0.0.1:9"]
        for query in queries {
            for method in ["GET", "POST"] {
                let response = try await curlRequest("\(url)?\(query)", method: method, body: method == "POST" ? "" : nil,
                                                     contentType: method == "POST" ? "application/x-www-form-urlencoded" : nil, in: directory)
                #expect(response.status == 401, "\(method) ?\(query) answered \(response)")
                #expect(response.body.contains("verify.token"), "\(method) ?\(query) is not the refusal of a request without credentials: \(response.body.prefix(300))")
                #expect(!response.body.contains("USAGE") && !response.body.contains(" build, "), "\(method) ?\(query) printed the command line's output")
            }
        }
        let after = try SiteSnapshot(site.path)
        #expect(after == before, "the site's folder changed:\n\(before.difference(to: after))")

        // And the site still works for the platform.
        let again = try await expectSendTestStored(url, token: token, in: directory, diagnostics: apache.diagnostics())
        _ = try await waitForJSONLine("\(site.path)/data/events.jsonl", transactionID: again)
    }

    @Test("deploy/shared-hosting: the static release as contact-listener.cgi with its .htaccess and config; nothing else downloadable",
          .timeLimit(.minutes(60)))
    func sharedHostingStaticRelease() async throws {
        let directory = try TestDirectory("ap-shared")
        defer { directory.remove() }
        let build = try await DeployRelease.build()
        print("release build: \(Int(build.seconds)) s")

        // What the operator uploads: the binary from the release tarball, and the
        // tarball's own deploy/shared-hosting/.htaccess and contact-listener.yaml.
        let binary: String
        let recipes: String
        if let tarball = build.tarball {
            let unpacked = try await offload { try DeployRelease.unpack(tarball, into: directory) }
            binary = "\(unpacked)/contact-listener"
            recipes = "\(unpacked)/deploy/shared-hosting"
            let file = try await runCommandAsync([binary], in: directory, executable: try tool("file", package: "file"))
            let ldd = try await runCommandAsync([binary], in: directory, executable: try tool("ldd", package: "libc-bin"))
            var size = stat()
            _ = stat(binary, &size)
            print("static release binary: \(size.st_size) bytes; file: \(file.stdout.trimmingCharacters(in: .whitespacesAndNewlines))")
            #expect(file.stdout.contains("statically linked"), "\(file)")
            #expect((ldd.stdout + ldd.stderr).contains("not a dynamic executable"), "ldd: \(ldd)")
            #expect(FileManager.default.fileExists(atPath: "\(recipes)/.htaccess"), "the release lacks deploy/shared-hosting/.htaccess")
        } else {
            let failure = build.staticFailure ?? "(no reason kept)"
            print("""
                ⚠︎ THE STATIC BUILD FAILED on this machine; this test runs the plain (dynamic) release build instead.
                Why (scripts/release.sh):
                \(failure)
                """)
            Issue.record("the static release build failed; the shared-hosting recipe ran with the dynamic release build:\n\(failure)")
            binary = try #require(build.binary)
            recipes = DeployRecipe.path("shared-hosting")
        }

        // The folder of the site holds exactly the three files the recipe names.
        let installed = try SharedHostingSite.install(binary: binary, recipes: recipes, in: directory)
        let site = installed.path, token = installed.token
        #expect(try FileManager.default.contentsOfDirectory(atPath: site).sorted() == [".htaccess", "contact-listener.cgi", "contact-listener.yaml"])

        let apache = try await ApacheServer.startForSharedHosting(in: directory, folder: site)
        defer { apache.stop() }

        // The static binary is also the client: send-test, as the recipe's operator runs it.
        let url = installed.url(on: apache)
        let id = try await expectSendTestStored(url, token: token, in: directory, executable: binary, diagnostics: apache.diagnostics())
        let event = try await waitForJSONLine("\(site)/data/events.jsonl", transactionID: id)
        expectSendTestEvent(event, transactionID: id)
        #expect(pathExists("\(site)/data/spool.db"), "the CGI made no spool in data/")

        // Nothing but the script is served: not the config, not the data, not a listing.
        for path in ["contact-listener.yaml", "data/spool.db", "data/spool.db-wal", "data/events.jsonl", "data/", "data", ""] {
            let response = try await curlRequest("\(apache.url)/\(installed.name)/\(path)", in: directory)
            #expect([403, 404].contains(response.status), "GET \(path) answered \(response)")
            #expect(!response.body.contains(token) && !response.body.contains("transactionid"), "GET \(path) leaked: \(response)")
        }
        // The script runs (its own 401), it is never downloaded.
        let bare = try await curlRequest(url, in: directory)
        #expect(bare.status == 401 && bare.body.contains("verify.token"), "\(bare)")
        let put = try await curlRequest("\(url)?token=\(token)", method: "PUT", body: "a=b",
                                  contentType: "application/x-www-form-urlencoded", in: directory)
        #expect(put.status == 403, "\(put)")
        #expect(try await apache.stopAsync() == .exited(0), "\(apache.diagnostics())")

        // "Runs with no Swift and no libraries installed": a root holding nothing but the
        // script, its config and /proc (which the Swift runtime reads), one CGI request.
        if build.tarball != nil { try await Self.runInEmptyRoot(binary: binary, in: directory) }
    }

    /// One CGI POST to `binary` chrooted into a folder with only the binary, its config and
    /// a bind-mounted /proc, inside a private mount namespace (`unshare`), so nothing is
    /// left mounted. Reports why when this machine doesn't allow it.
    static func runInEmptyRoot(binary: String, in directory: TestDirectory) async throws {
        guard Network.isRoot, let unshare = try? tool("unshare", package: "util-linux") else {
            print("⚠︎ empty-root run skipped: needs root and unshare")
            return
        }
        let jail = try directory.folder("jail")
        try directory.folder("jail/proc")
        try FileManager.default.copyItem(atPath: binary, toPath: "\(jail)/contact-listener.cgi")
        try directory.write("jail/contact-listener.yaml", """
            verify:
              token: "jail-token"
            spool: data/spool.db
            handlers:
              - type: jsonl
                path: data/events.jsonl

            """)
        let body = contactForm("empty-root-1")
        let input = try directory.write("jail-request", body)
        let process = try ChildProcess(
            name: "chrooted CGI", executable: unshare,
            arguments: ["--mount", "--propagation", "private", "/bin/sh", "-c",
                        "mount --bind /proc \"$1/proc\" && exec chroot \"$1\" /contact-listener.cgi", "sh", jail],
            environment: childEnvironment([
                "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "POST", "QUERY_STRING": "token=jail-token",
                "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": String(body.utf8.count),
                "REMOTE_ADDR": "192.0.2.1", "SERVER_PROTOCOL": "HTTP/1.1",
            ]),
            directory: directory.path, stdin: .file(input),
            stdoutPath: directory.file("jail.out"), stderrPath: directory.file("jail.err"))
        let exit = try await process.waitForExitAsync(timeout: 60)
        if exit != .exited(0), process.stderr.contains("Operation not permitted") || process.stderr.contains("unshare failed") {
            print("⚠︎ empty-root run skipped: this container may not make a mount namespace: \(process.stderr)")
            return
        }
        #expect(exit == .exited(0), "\(process.diagnostics())")
        #expect(process.stdout.hasPrefix("Status: 200"), "\(process.stdout)\n\(process.diagnostics())")
        #expect(JSONLines(path: "\(jail)/data/events.jsonl").countsByTransaction["empty-root-1"] == 1,
                "\(readText("\(jail)/data/events.jsonl"))\n\(process.diagnostics())")
        print("static release binary: served a CGI request in an empty root (only /proc)")
    }
}

/// Product behaviour under Apache's mod_cgid, where the CGI's stdin is a connected unix
/// socket: an answer written without reading the request body must still reach the client.
@Suite("Apache CGI: answers that don't read the body")
struct ApacheCGIRefusalTests {
    /// A private Apache running the debug binary as `contact-listener.cgi` through
    /// deploy/apache/cgi.conf with `yaml` beside it.
    static func start(in directory: TestDirectory, yaml: String) async throws -> ApacheServer {
        let cgiBin = try directory.folder("cgi-bin")
        let program = "\(cgiBin)/contact-listener.cgi"
        try FileManager.default.copyItem(atPath: try ListenerBinary.path(), toPath: program)
        chmod(program, 0o755)
        let configPath = try directory.write("cgi-bin/contact-listener.yaml", yaml)
        chmod(configPath, 0o644)
        let site = try DeployRecipe.render("apache/cgi.conf", [("/usr/local/lib/cgi-bin", cgiBin)])
        return try await ApacheServer.start(in: directory, modules: ["cgid"], site: site)
    }

    @Test("a body over limits.max_body_bytes gets the listener's 413, not a reset connection", .timeLimit(.minutes(2)))
    func tooLargeBody() async throws {
        let directory = try TestDirectory("ap-413")
        defer { directory.remove() }
        let state = try directory.folder("state")
        try WebServerUser.own(state)
        let apache = try await Self.start(in: directory, yaml: """
            limits:
              max_body_bytes: 1024
            dedup: { path: \(state)/dedup.db }
            handlers:
              - type: jsonl
                path: \(state)/events.jsonl

            """)
        defer { apache.stop() }
        // 300 KB: more than a unix socket buffers, so Apache is still writing it when the
        // script, which refused it from CONTENT_LENGTH alone, exits without reading it.
        let response = try await curlRequest("\(apache.url)/contact-listener", method: "POST",
                                       body: Fixtures.largeForm(size: 300_000, transactionID: "too-large"),
                                       contentType: "application/x-www-form-urlencoded", in: directory)
        #expect(response.status == 413 && response.body.contains("max_body_bytes"),
                "expected the listener's 413; got \(response)\n\(apache.diagnostics())")
    }

    @Test("a broken config answers 503 (as CGI.swift promises), not a reset connection", .timeLimit(.minutes(2)))
    func brokenConfig() async throws {
        let directory = try TestDirectory("ap-503")
        defer { directory.remove() }
        let apache = try await Self.start(in: directory, yaml: "limits:\n  max_vars: lots\n")
        defer { apache.stop() }
        // A body the broken listener never reads: 300 KB makes the lost answer certain; a
        // small one loses it only now and then (it depends on who closes first).
        let response = try await curlRequest("\(apache.url)/contact-listener", method: "POST",
                                       body: Fixtures.largeForm(size: 300_000, transactionID: "misconfigured-1"),
                                       contentType: "application/x-www-form-urlencoded", in: directory)
        #expect(response.status == 503 && response.body.contains("misconfigured"),
                "expected the listener's JSON 503; got \(response)\n\(apache.diagnostics())")
        #expect(apache.errorLog.contains("max_vars"), "the reason belongs in the error log: \(apache.diagnostics())")
    }
}
