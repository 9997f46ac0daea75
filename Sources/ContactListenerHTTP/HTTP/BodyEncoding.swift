/// How a text body's placeholders are written, chosen by the media type of the handler's
/// `content_type` (type and subtype are case-insensitive and parameters follow `;`,
/// RFC 9110 §8.3.1).
import ContactListenerKit
package enum BodyEncoding: Sendable, Equatable {
    /// `application/json` or a `+json` structured syntax suffix (RFC 6839 §3.1): JSON
    /// string escaping (RFC 8259 §7), so a value is always data.
    case json
    /// `application/x-www-form-urlencoded`: every byte but RFC 3986's unreserved ones
    /// percent-encoded, so a value never adds a `&name=` pair.
    case formURLEncoded
    /// Any other type: no encoding is known, so a text body may hold no placeholder.
    case other

    /// The encoding for a `Content-Type` value.
    package init(contentType: String) {
        let mediaType = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let essence = mediaType.trimmingCharacters(in: " \t").lowercased()
        if essence == "application/json" || essence.hasSuffix("+json") {
            self = .json
        } else if essence == "application/x-www-form-urlencoded" {
            self = .formURLEncoded
        } else {
            self = .other
        }
    }
}
