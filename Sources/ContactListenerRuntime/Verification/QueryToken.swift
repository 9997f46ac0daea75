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

    /// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte, and a
    /// `%` without two hex digits stays literal, as in PHP's `urldecode`.
    static func formDecode(_ text: Substring) -> [UInt8] {
        let bytes = Array(text.utf8)
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "+") {
                decoded.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), index + 2 < bytes.count,
                      let high = Hex.nibble(bytes[index + 1]), let low = Hex.nibble(bytes[index + 2]) {
                decoded.append(high << 4 | low)
                index += 3
                continue
            } else {
                decoded.append(byte)
            }
            index += 1
        }
        return decoded
    }
}
