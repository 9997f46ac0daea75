import ContactListenerKit
import ContactListenerRuntime
import ListenerSupport
import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

extension ContactListener {
    /// `contact-listener init`: a starter config and the matching web-server snippet.
    package struct Init: ParsableCommand {
        /// Help for `init`.
        package static let configuration = CommandConfiguration(
            abstract: "Write a starter config and web-server snippet for this machine, with a fresh token.",
            discussion: """
                --nginx (default) and --apache write a config for `contact-listener serve` on a unix \
                socket in DIR/run and a snippet to include in your site. --cgi copies this binary \
                into DIR as contact-listener.cgi with an .htaccess, for shared hosting. Every variant \
                stores contacts in DIR/data (SQLite), behind a durable spool, and requires a random \
                token, which the printed URL carries.

                Example:
                  contact-listener init --nginx /srv/contact-listener --host crm.example.com
                """)

        @Flag(help: "The kind of setup to write.")
        var kind: Kind = .nginx

        /// The setups `init` can write.
        enum Kind: String, EnumerableFlag {
            case nginx, apache, cgi
        }

        @Argument(help: "The folder to write into (created if missing).")
        var directory: String

        @Option(name: .long, help: ArgumentHelp("Your site's host name, for the printed URL.", valueName: "host"))
        var host = "YOUR-SERVER"

        @Flag(name: .long, help: "Replace files that already exist.")
        var force = false

        /// Creates the command (ArgumentParser needs it).
        package init() {}

        /// Runs `init`.
        package func run() throws {
            let dir = Self.absolute(directory)
            do {
                // The folder must be searchable by the web server (it reaches run/ and the
                // .cgi through it); only data/ is private.
                try FileSystem.createDirectories(dir, mode: 0o755)
                try FileSystem.createDirectories(dir + "/data", mode: 0o750)
                if kind != .cgi { try FileSystem.createDirectories(dir + "/run", mode: 0o755) }
            } catch {
                Runtime.complain("\(error)")
                throw ExitCode(1)
            }
            let token = SecureRandom.hex(bytes: 16)
            let secretPath = "/contact-listener-\(SecureRandom.hex(bytes: 6))"
            let group = Self.webServerGroup()
            var written: [String] = []
            func write(_ name: String, _ text: String, mode: mode_t = 0o640) throws {
                let path = "\(dir)/\(name)"
                if FileSystem.exists(path) && !force {
                    Runtime.complain("\(path) exists; pass --force to replace it")
                    throw ExitCode(1)
                }
                let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
                guard fd >= 0 else { Runtime.complain("can't write \(path)"); throw ExitCode(1) }
                defer { close(fd) }
                try Array(text.utf8).withUnsafeBytes { try FileSystem.writeAll(fd, $0, target: path) }
                fchmod(fd, mode)
                written.append(path)
            }
            let socket = "\(dir)/run/listener.sock"
            var config = """
                # contact-listener configuration written by `contact-listener init --\(kind.rawValue)`.
                # Check it with: contact-listener check-config --config \(dir)/contact-listener.yaml

                """
            if kind != .cgi {
                config += """
                    listen: "unix:\(socket)"
                    socket_group: \(group)          # the web server's group may connect (mode 0660)

                    """
            }
            if kind != .cgi {
                config += """
                    status_path: \(secretPath)/status   # ?json, ?html or ?prometheus, with the token
                    ping_path: \(secretPath)/ping

                    """
            }
            config += """
                verify:
                  token: "\(token)"   # the platform sends it as ?token=… in the URL
                spool:
                  path: data/spool.db
                handlers:
                  - type: sqlite
                    path: data/contacts.db

                """
            try write("contact-listener.yaml", config, mode: 0o600)
            var steps: [String] = []
            var url = "https://\(host)\(secretPath)"
            switch kind {
            case .nginx:
                try write("nginx-contact-listener.conf", """
                    # Include inside your site's `server { … }` block, then `nginx -t && nginx -s reload`.
                    location = \(secretPath) {
                        limit_except GET POST { deny all; }
                        client_max_body_size 8m;
                        include fastcgi_params;
                        fastcgi_pass unix:\(socket);
                    }
                    location ^~ \(secretPath)/ {
                        include fastcgi_params;
                        fastcgi_pass unix:\(socket);
                    }

                    """, mode: 0o644)
                steps = [
                    "Start the listener:   contact-listener serve --config \(dir)/contact-listener.yaml   (or use deploy/systemd/)",
                    "In your nginx site:   include \(dir)/nginx-contact-listener.conf;   then nginx -t && nginx -s reload",
                ]
            case .apache:
                try write("apache-contact-listener.conf", """
                    # Include in your VirtualHost (a2enmod proxy proxy_fcgi), then `apachectl graceful`.
                    <Location "\(secretPath)">
                        <LimitExcept GET POST>
                            Require all denied
                        </LimitExcept>
                        SetHandler "proxy:unix:\(socket)|fcgi://localhost/"
                    </Location>

                    """, mode: 0o644)
                steps = [
                    "Start the listener:   contact-listener serve --config \(dir)/contact-listener.yaml   (or use deploy/systemd/)",
                    "In your VirtualHost:  Include \(dir)/apache-contact-listener.conf   then apachectl graceful",
                ]
            case .cgi:
                guard let binary = ProcessEnvironment.executablePath else { Runtime.complain("can't find this program's own file to copy"); throw ExitCode(1) }
                try Self.copy(binary, to: "\(dir)/contact-listener.cgi")
                written.append("\(dir)/contact-listener.cgi")
                try write(".htaccess", Self.htaccess, mode: 0o644)
                url = "https://\(host)/PATH-OF-\(dir.split(separator: "/").last ?? "folder")/contact-listener.cgi"
                steps = [
                    "Upload the folder's files into a folder of your site (keep 755 for the folder and contact-listener.cgi).",
                    "Optional, for retries: crontab line  * * * * * \(dir)/contact-listener.cgi drain --config \(dir)/contact-listener.yaml",
                ]
            }
            print("Wrote:")
            for path in written { print("  \(path)") }
            print("\nNext:")
            for (index, step) in steps.enumerated() { print("  \(index + 1). \(step)") }
            print("  \(steps.count + 1). Give the platform this URL (Automation → Synch Contact to Third Party):")
            print("       \(url)?token=\(token)")
            print("  \(steps.count + 2). Check it end to end:")
            print("       contact-listener send-test \(url) --token \(token)")
        }

        static let htaccess = """
            # contact-listener as a CGI script (written by `contact-listener init --cgi`).
            Options +ExecCGI -Indexes
            AddHandler cgi-script .cgi
            DirectoryIndex disabled
            <FilesMatch "\\.(ya?ml|json|jsonl|db|db-wal|db-shm|log|csv)$">
                Require all denied
            </FilesMatch>
            RedirectMatch 404 /data(/|$)
            <LimitExcept GET POST>
                Require all denied
            </LimitExcept>

            """

        static func absolute(_ path: String) -> String {
            if path.hasPrefix("/") { return path }
            var buffer = [CChar](repeating: 0, count: 4096)
            guard getcwd(&buffer, buffer.count) != nil else { return path }
            let cwd = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return path == "." ? cwd : "\(cwd)/\(path)"
        }


        /// `www-data` (Debian), `nginx` or `apache` when such a group exists.
        static func webServerGroup() -> String {
            for name in ["www-data", "nginx", "apache", "http"] where getgrnam(name) != nil { return name }
            return "www-data"
        }

        static func copy(_ source: String, to destination: String) throws {
            let input = open(source, O_RDONLY | O_CLOEXEC)
            guard input >= 0 else { Runtime.complain("can't read \(source)"); throw ExitCode(1) }
            defer { close(input) }
            let output = open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
            guard output >= 0 else { Runtime.complain("can't write \(destination)"); throw ExitCode(1) }
            defer { close(output) }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
                if count <= 0 { break }
                try chunk.withUnsafeBytes { try FileSystem.writeAll(output, UnsafeRawBufferPointer(rebasing: $0[0..<count]), target: destination) }
            }
            fchmod(output, 0o755)  // suEXEC refuses group- or world-writable scripts
        }
    }
}
