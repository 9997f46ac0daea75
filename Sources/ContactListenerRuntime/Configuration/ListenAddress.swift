/// Where the FastCGI listener accepts connections from the web server.
import ContactListenerKit
package enum ListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// A unix socket path (`unix:/run/contact-listener/listener.sock`).
    case unix(path: String)
    /// A TCP address (`127.0.0.1:9000`, `[::1]:9000`, `:9000` for loopback).
    case tcp(host: String, port: Int)

    /// Parses `unix:/path`, `/path`, `HOST:PORT`, `[V6]:PORT` or `:PORT`.
    package init?(_ text: String) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else { return nil }
            self = .unix(path: path)
            return
        }
        if text.hasPrefix("/") || text.hasPrefix("./") {
            self = .unix(path: text)
            return
        }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (1...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        // Loopback unless told otherwise: a reachable libfcgi socket is a risk (docs/libfcgi.md).
        self = .tcp(host: host.isEmpty ? "127.0.0.1" : host, port: port)
    }

    /// The form accepted by `--listen` and `listen:`.
    package var description: String {
        switch self {
        case .unix(let path): return "unix:\(path)"
        case .tcp(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }
}
