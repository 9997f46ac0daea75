import ContactListenerKit

/// A handler as the console shows it: its name, type, rate, and where it delivers with
/// every secret taken out (no credentials, query or fragment in a URL; only the program's
/// name of a command): the console never shows what the configuration keeps secret.
struct ConsoleHandler: Sendable {
    /// The handler's name.
    let name: String
    /// Its type (`sqlite`, `http`, …).
    let type: String
    /// Where it delivers, redacted.
    let target: String
    /// Its `rate:`, as configured.
    let rate: String?

    /// The summary of `configuration`.
    init(_ configuration: HandlerConfiguration, rate: DeliveryRate?) {
        name = configuration.name
        type = configuration.type
        let options = configuration.options
        if let url = try? options["url"]?.string() {
            target = Self.redact(url: url)
        } else if let path = try? options["path"]?.string() {
            target = path
        } else if let command = try? options["command"]?.stringList().first {
            target = String(command.split(separator: "/").last ?? "")
        } else {
            target = ""
        }
        self.rate = rate.map { $0.period % 1000 == 0 ? "\($0.count)/\($0.period / 1000)s" : "\($0.count)/\($0.period)ms" }
    }

    /// `url` as `scheme://host[:port]/…`: no user information, no path, no query, no
    /// fragment. Webhook and bot URLs carry their secret in the path
    /// (`https://hooks.example.com/services/T0/B0/SECRET`, `https://api.telegram.org/botSECRET/…`),
    /// so no part of the path is shown. A reference without a host shows as `/…`.
    static func redact(url: String) -> String {
        let shown = RedactedURL(url).description
        guard let scheme = shown.range(of: "://") else { return shown.isEmpty ? "" : "/…" }
        let authorityEnd = shown[scheme.upperBound...].firstIndex(of: "/") ?? shown.endIndex
        return String(shown[..<authorityEnd]) + "/…"
    }

    /// `text` (an error message) with every URL in it redacted.
    static func redact(text: String) -> String {
        var output = ""
        var rest = Substring(text)
        while let start = rest.range(of: "http://") ?? rest.range(of: "https://") {
            output += rest[..<start.lowerBound]
            let end = rest[start.lowerBound...].firstIndex { $0 == " " || $0 == "\"" || $0 == "'" || $0 == ">" || $0 == "<" || $0 == ")" } ?? rest.endIndex
            output += redact(url: String(rest[start.lowerBound..<end]))
            rest = rest[end...]
        }
        return output + rest
    }
}
