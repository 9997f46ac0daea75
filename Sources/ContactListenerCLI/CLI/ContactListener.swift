import ContactListenerKit
import ContactListenerRuntime
import ListenerSupport
import ListenerSupport
import ArgumentParser
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The `contact-listener` command: receives contacts from a marketing-automation platform
/// behind nginx or Apache (FastCGI), or as a CGI script, and stores them durably.
public struct ContactListener: ParsableCommand {
    /// The command's help and subcommands.
    public static let configuration = CommandConfiguration(
        commandName: "contact-listener",
        abstract: "Receive contacts pushed by a marketing-automation platform, verify them and store them durably.",
        discussion: """
            The platform's "Synch Contact to Third Party" action POSTs each contact (form-encoded \
            as PHP's http_build_query writes it) or sends a GET built from shortcodes. This program \
            decodes it exactly as PHP's $_POST would, turns it into a contact event, verifies \
            it (token, signature, allow-list), commits it to a durable spool and answers 200; \
            the spool then delivers it to every handler (SQLite, PostgreSQL, MySQL, a CRM's \
            API, a script) with retries. Nothing acknowledged is lost.

            Started by a web server it decides by itself, like any libfcgi program: a listening \
            socket on fd 0 (spawn-fcgi, mod_fcgid) or from systemd means FastCGI; a CGI \
            environment (GATEWAY_INTERFACE or REQUEST_METHOD set) means one CGI request, and \
            then the command line is ignored (Apache turns a query string into arguments), so \
            the configuration comes from $CONTACT_LISTENER_CONFIG or the file beside the binary.

            First steps:
              contact-listener init --nginx /srv/contact-listener --host crm.example.com
              contact-listener send-test http://127.0.0.1:8080/contact-listener

            Examples:
              contact-listener serve --listen unix:/run/contact-listener/listener.sock
              contact-listener serve --listen 127.0.0.1:9000 --threads 8
              contact-listener check-config --config /etc/contact-listener.yaml
              printf 'contact[email]=a%%40b.c' | contact-listener decode --raw

            Configuration: --config FILE, else $CONTACT_LISTENER_CONFIG, else \
            contact-listener.yaml beside the executable, else built-in defaults (contacts stored \
            in the SQLite database ./data/contacts.db). README.md documents every key.
            """,
        version: ContactListener.versionLine,
        subcommands: [Serve.self, Init.self, SendTest.self, CheckConfig.self, Decode.self, Handlers.self, SpoolCommand.self, Drain.self, ConsoleCommand.self]
    )

    /// The release version.
    package static let version = ListenerVersion.number

    /// What `--version` prints: the version and how this binary was built.
    package static var versionLine: String {
        #if DEBUG
        let mode = "debug"
        #else
        let mode = "release"
        #endif
        #if compiler(>=6.3)
        let compiler = "Swift 6.3+"
        #else
        let compiler = "Swift 6"
        #endif
        #if arch(x86_64)
        let arch = "x86_64"
        #elseif arch(arm64)
        let arch = "arm64"
        #else
        let arch = "unknown-arch"
        #endif
        let linkage = ProcessEnvironment.isStaticExecutable ? "static" : "dynamic"
        return "\(version) (\(mode) build, \(linkage), \(arch)-linux, \(compiler), libfcgi \(FastCGIServer.libraryVersion))"
    }

    /// Creates the command (ArgumentParser needs it).
    public init() {}

    /// The handler types of this binary, set once by `main(handlers:)`: ArgumentParser
    /// makes the subcommands, so they find it here rather than in an argument.
    static var registry: HandlerRegistry { registryStorage.withLock { $0 } }
    private static let registryStorage = Mutex(HandlerRegistry())

    /// Runs the listener with the built-in handlers plus `handlers` (your own types).
    /// Started as CGI, serves the one request and never reads its command line; with no
    /// arguments and a listening socket on fd 0, serves FastCGI; otherwise runs a subcommand.
    public static func main(handlers: [any ContactHandlerFactory.Type]) -> Never {
        registryStorage.withLock { $0 = HandlerRegistry(adding: handlers) }
        let environment = ProcessEnvironment.current
        // Under CGI the command line belongs to the client: Apache's mod_cgi and mod_cgid
        // turn a query string without '=' into arguments, split on '+' (RFC 3875 §4.4, the
        // behaviour behind PHP-CGI's CVE-2012-1823; see SECURITY.md). So `?init+--force+x`
        // must not reach the argument parser: a CGI process serves its request with the
        // configuration found as always, and no argument picks a subcommand, file or option.
        // A listening socket on fd 0 is FastCGI whatever the environment says (mod_fcgid).
        let listening = ListenSocket.inherited(environment: environment) != nil
        if CGIGateway.isCGI(environment: environment) && !listening {
            Glibc.exit(CGI.run(environment: environment))
        }
        if CommandLine.arguments.count == 1 && listening {
            Glibc.exit(Serve.run(configPath: nil, listen: nil, threads: nil, environment: environment))
        }
        main()
        Glibc.exit(0)
    }
}
