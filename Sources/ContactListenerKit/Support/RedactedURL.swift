/// A URL as messages show it: `scheme://host[:port]/path`, without the parts that carry
/// credentials (RFC 3986 §3): the userinfo before `@`, the query (`?key=…`) and the fragment.
///
/// Reads any text without failing, a relative reference (a redirect's `Location: /x?y`) too,
/// so an error can name a URL that was never valid without leaking it.
package struct RedactedURL: Sendable, Equatable, CustomStringConvertible {
    /// `scheme://host[:port]/path`, or the path alone for a relative reference.
    package let description: String
    /// What the description leaves out, each as written: the user name and password, and
    /// each query and fragment parameter's value (for scrubbing text that may echo them).
    package let hidden: [String]

    /// Splits `text` as RFC 3986 §3 does: the authority follows `//` and ends at the first
    /// `/`, `?` or `#`; within it the userinfo ends at the last `@` (an unencoded `@` in a
    /// password stays hidden); the path ends at `?` or `#`.
    package init(_ text: String) {
        var rest = Substring(text)
        var shown = ""
        var hidden: [Substring] = []
        if let slashes = rest.range(of: "//"), !rest[..<slashes.lowerBound].contains(where: { "/?#".contains($0) }) {
            shown = String(rest[..<slashes.upperBound])
            rest = rest[slashes.upperBound...]
            let authorityEnd = rest.firstIndex { "/?#".contains($0) } ?? rest.endIndex
            var authority = rest[..<authorityEnd]
            if let at = authority.lastIndex(of: "@") {
                hidden += authority[..<at].split(separator: ":", maxSplits: 1)
                authority = authority[authority.index(after: at)...]
            }
            shown += authority
            rest = rest[authorityEnd...]
        }
        let pathEnd = rest.firstIndex { $0 == "?" || $0 == "#" } ?? rest.endIndex
        shown += rest[..<pathEnd]
        for parameter in rest[pathEnd...].dropFirst().split(whereSeparator: { "&#?;".contains($0) }) {
            hidden.append(parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).last ?? parameter)
        }
        description = shown
        self.hidden = hidden.filter { !$0.isEmpty }.map(String.init)
    }
}
