import ContactListenerKit

/// An `http` handler's `url:` with `{{…}}` placeholders in its path or query, such as
/// Mailchimp's `/lists/ID/members/{{md5:lowercase:trim:contact.email}}`.
///
/// A contact's value is data, never structure: placeholders may not appear before the
/// path (a value could otherwise pick the host), and each value is percent-encoded except
/// RFC 3986's unreserved characters (§2.3), so `/`, `?`, `#`, `@` or `%` in a value stay
/// inside its segment. A missing or blank value, or a path that comes out with a `.` or
/// `..` segment (§3.3: another resource), fails the delivery for good: a retry can't change it.
package struct URLTemplate: Sendable, Equatable {
    private let pieces: [BodyTemplate.Piece]

    /// Compiles `text` when it holds a placeholder; nil when it holds none.
    package static func compile(_ text: String, at node: ConfigNode) throws(ConfigurationError) -> URLTemplate? {
        guard text.contains("{{") else { return nil }
        let pieces = try BodyTemplate.pieces(text, at: node)
        // The authority ends at the first "/" after "://": every placeholder must come later.
        let afterScheme = text.range(of: "://").map { text[$0.upperBound...] } ?? Substring(text)
        guard let pathStart = afterScheme.firstIndex(of: "/"), let first = text.range(of: "{{"), first.lowerBound > pathStart else {
            throw node.error("a {{…}} in url may only stand in the path or the query, after the host (a contact's value must never choose where the request goes)")
        }
        return URLTemplate(pieces: pieces)
    }

    /// The URL with `x` for every placeholder: what `check-config` hands the HTTP client to check.
    package var sample: String {
        pieces.map { piece in if case .text(let text) = piece { text } else { "x" } }.joined()
    }

    /// The URL for `delivery`, or the reason it can't be built.
    package func render(_ delivery: Delivery) -> Result<String, RenderError> {
        var url = ""
        for piece in pieces {
            switch piece {
            case .text(let text):
                url += text
            case .placeholder(let placeholder), .stringContent(let placeholder):
                // Blank as sent is missing, whatever a transform makes of it (the MD5 of "").
                guard let sent = placeholder.innermost.value(in: delivery), !sent.trimmingCharacters(in: " \t\r\n").isEmpty,
                      let value = placeholder.value(in: delivery), !value.isEmpty else { return .failure(.missing(placeholder)) }
                url += BodyTemplate.percentEncode(value)
            }
        }
        // A dot segment, from one value or from values and text together, names another resource.
        let path = url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? url
        if path.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == "." || $0 == ".." }) {
            return .failure(.dotSegment)
        }
        return .success(url)
    }

    /// Why a URL can't be built for an event.
    package enum RenderError: Error, CustomStringConvertible {
        /// The event has no value, or a blank one, for this placeholder.
        case missing(Placeholder)
        /// The path would hold a `.` or `..` segment.
        case dotSegment

        /// One line for the delivery's `last_error`.
        package var description: String {
            switch self {
            case .missing: return "the event has no value for a {{…}} in url"
            case .dotSegment: return "a {{…}} in url makes a '.' or '..' path segment, which would name another resource"
            }
        }
    }
}
