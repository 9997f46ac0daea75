/// Finds and removes `token=` parameters in a query string, so the token is never decoded
/// into the event or written to a log.
import ContactListenerKit
enum QueryToken {
    /// The query without its `token` parameters, and their decoded values.
    ///
    /// The query is split at `&` only (PHP's `arg_separator.input`), and every other
    /// parameter, separator and escape is kept byte for byte, in order. A parameter counts
    /// as the token when its *decoded* name is exactly `token`, because that is the name
    /// the form decoder would give it: `tok%65n=…` is removed too, `mytoken=1` and
    /// `token[]=1` stay. Empty values count as not sent.
    static func extract(from query: String) -> (query: String, tokens: [[UInt8]]) {
        var kept: [Substring] = []
        var tokens: [[UInt8]] = []
        var removed = false
        for parameter in query.split(separator: "&", omittingEmptySubsequences: false) {
            let name: Substring
            let value: Substring
            if let equals = parameter.firstIndex(of: "=") {
                name = parameter[..<equals]
                value = parameter[parameter.index(after: equals)...]
            } else {
                name = parameter
                value = ""
            }
            guard formDecode(name) == Array("token".utf8) else {
                kept.append(parameter)
                continue
            }
            removed = true
            let decoded = formDecode(value)
            if !decoded.isEmpty { tokens.append(decoded) }
        }
        return (removed ? kept.joined(separator: "&") : query, tokens)
    }

    /// A name or value decoded as the form decoder decodes it (`+` a space, `%XX` a byte, any
    /// other `%` literal, as PHP's `urldecode`).
    static func formDecode(_ text: Substring) -> [UInt8] {
        URLEncodedFormDecoder.percentDecodedBytes(text)
    }
}
