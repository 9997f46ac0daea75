/// The options of a database-server handler (`postgres`, `mysql`): where to connect, with
/// TLS or not, and how long any step may take before the delivery fails and is retried.
import ContactListenerKit
struct SQLServerOptions: Sendable {
    /// The server and credentials.
    var url: DatabaseURL
    /// Require TLS (with certificate verification).
    var tls: Bool
    /// The longest a connect or a statement may take, in seconds.
    var timeout: Int

    /// The keys, with one line of help each, shared by both server types.
    static func keys(scheme: String, defaultPort: Int, urlNote: String = "") -> [(name: String, help: String)] {
        [
            ("url", "\(scheme)://user:password@host:port/database (port \(defaultPort) if left out; percent-encode special characters; ${VAR} keeps the password out of the file\(urlNote)) (required)"),
            ("tls", "require TLS and verify the server's certificate against the system's CAs (default false)"),
            ("timeout", "the longest a connect or a statement may take before the delivery fails and is retried later, like 10s (default 10s)"),
        ]
    }

    /// Options given directly (tests, custom builds).
    init(url: DatabaseURL, tls: Bool = false, timeout: Int = 10) {
        self.url = url
        self.tls = tls
        self.timeout = timeout
    }

    /// Reads `url`, `tls` and `timeout` from a handler's configuration.
    init(_ configuration: HandlerConfiguration, schemes: [String], defaultPort: Int) throws(ConfigurationError) {
        let options = configuration.options
        guard let urlNode = options["url"] else {
            throw options.error("a \(configuration.type) handler needs 'url' (\(schemes[0])://user:password@host:port/database)")
        }
        let text = try urlNode.string()
        do {
            url = try DatabaseURL(text, schemes: schemes, defaultPort: defaultPort)
        } catch {
            throw urlNode.error("\(error)")
        }
        tls = try options["tls"]?.bool() ?? false
        timeout = Int(try options["timeout"]?.duration(in: 1_000...3_600_000) ?? 10_000) / 1_000
    }
}
