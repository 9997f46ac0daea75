import ContactListenerHTTP

/// Markup the console writes, escaped by construction: in `"<td>\(value)</td>"` the literal
/// parts are markup and every interpolated `String` is escaped for text and for quoted
/// attribute values alike (`&`, `<`, `>`, `"`, `'`). Only another `HTML` is inserted as
/// is, so a value from an event can never become markup (docs/console.md, "Escaping").
struct HTML: ExpressibleByStringInterpolation, Sendable {
    /// The markup.
    private(set) var text: String

    /// Markup from a literal with no interpolation.
    init(stringLiteral value: String) {
        text = value
    }

    /// Markup from a literal with escaped interpolations.
    init(stringInterpolation: StringInterpolation) {
        text = stringInterpolation.text
    }

    /// No markup at all.
    static let empty: HTML = ""

    /// `lhs` then `rhs`.
    static func + (lhs: HTML, rhs: HTML) -> HTML {
        var result = lhs
        result.text += rhs.text
        return result
    }

    /// Appends `rhs`.
    static func += (lhs: inout HTML, rhs: HTML) {
        lhs.text += rhs.text
    }

    /// `items` rendered one after the other.
    static func join<S: Sequence>(_ items: S, _ render: (S.Element) -> HTML) -> HTML {
        var result = HTML.empty
        for item in items { result += render(item) }
        return result
    }

    /// The interpolation rules: markup literals, escaped values.
    struct StringInterpolation: StringInterpolationProtocol {
        fileprivate var text = ""

        init(literalCapacity: Int, interpolationCount: Int) {
            text.reserveCapacity(literalCapacity + interpolationCount * 16)
        }

        mutating func appendLiteral(_ literal: String) {
            text += literal
        }

        /// A value: escaped.
        mutating func appendInterpolation(_ value: String) {
            HTML.escape(value, into: &text)
        }

        /// An optional value: escaped, or an en dash when absent.
        mutating func appendInterpolation(_ value: String?) {
            HTML.escape(value ?? "–", into: &text)
        }

        /// A number.
        mutating func appendInterpolation<T: BinaryInteger>(_ value: T) {
            text += String(value)
        }

        /// Markup built elsewhere by these same rules.
        mutating func appendInterpolation(_ value: HTML) {
            text += value.text
        }

        /// A query-string value: percent-encoded (RFC 3986 unreserved bytes kept), then
        /// safe inside an attribute as well.
        mutating func appendInterpolation(query value: String) {
            text += BodyTemplate.percentEncode(value)
        }
    }

    /// Appends `value` to `output` with the five HTML-significant characters as entities.
    static func escape(_ value: String, into output: inout String) {
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": output += "&amp;"
            case "<": output += "&lt;"
            case ">": output += "&gt;"
            case "\"": output += "&quot;"
            case "'": output += "&#39;"
            default: output.unicodeScalars.append(scalar)
            }
        }
    }
}
