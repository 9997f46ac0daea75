import ContactListenerKit
@preconcurrency import Yams

/// The body an `http` handler sends: the event's JSON, or a template that builds a CRM's
/// shape from it. Compiled when the configuration loads, so an unknown `{{…}}`, a template
/// whose values can't be encoded for the content type, or a number JSON can't carry is a
/// `check-config` error, not a failure at delivery time.
///
/// A YAML mapping or list becomes JSON: strings are templates (a string that is exactly one
/// placeholder becomes `null` when the event lacks the value), `true`, `false`, `null` and
/// numbers in RFC 8259 §6's grammar stay as written. A YAML string is a text template whose
/// values are encoded for the content type (`BodyEncoding`).
package indirect enum BodyTemplate: Sendable, Equatable {
    /// The event's own JSON.
    case eventJSON
    /// A JSON object.
    case object([(String, BodyTemplate)])
    /// A JSON array.
    case array([BodyTemplate])
    /// A JSON string built from text and placeholders.
    case string([Piece])
    /// A JSON literal (number, boolean, null) as written.
    case literal(String)
    /// A text body, its placeholders written in `encoding`.
    case text([Piece], encoding: BodyEncoding)

    /// Literal text or a placeholder.
    package enum Piece: Sendable, Equatable {
        /// Text copied as is.
        case text(String)
        /// A value looked up in the event (in a JSON text body: written as a JSON value).
        case placeholder(Placeholder)
        /// A value inside a JSON string literal of a text body: escaped, without quotes.
        case stringContent(Placeholder)
    }

    /// Compiles the `body:` option (nil means the event's JSON) for `contentType`.
    package static func compile(_ node: ConfigNode?, contentType: String) throws(ConfigurationError) -> BodyTemplate {
        guard let node else { return .eventJSON }
        let encoding = BodyEncoding(contentType: contentType)
        guard node.node.scalar != nil else {
            guard encoding == .json else {
                throw node.error("a YAML mapping or list body is sent as JSON, so content_type must be application/json (or …+json), "
                    + "not '\(contentType)'; for a form body write a text template like \"email={{contact.email}}&name={{field:First Name}}\"")
            }
            return try compileJSON(node)
        }
        let pieces = try pieces(try node.string(), at: node)
        switch encoding {
        case .json:
            return .text(try jsonText(pieces, at: node), encoding: .json)
        case .formURLEncoded:
            return .text(pieces, encoding: .formURLEncoded)
        case .other:
            guard pieces.allSatisfy({ if case .text = $0 { true } else { false } }) else {
                throw node.error("a text body's placeholders can be encoded only for application/json (or …+json) and "
                    + "application/x-www-form-urlencoded, not '\(contentType)': use one of those content types, write the body "
                    + "as a YAML mapping (sent as JSON), or omit body to send the event's JSON")
            }
            return .text(pieces, encoding: .other)
        }
    }

    private static func compileJSON(_ node: ConfigNode) throws(ConfigurationError) -> BodyTemplate {
        switch node.node {
        case .mapping:
            var members: [(String, BodyTemplate)] = []
            for key in node.keys {
                guard let child = node[key] else { members.append((key, .literal("null"))); continue }
                members.append((key, try compileJSON(child)))
            }
            return .object(members)
        case .sequence:
            var elements: [BodyTemplate] = []
            for child in try node.elements() { elements.append(try compileJSON(child)) }
            return .array(elements)
        case .scalar(let scalar):
            if scalar.style == .plain {
                let text = scalar.string
                if ["true", "false", "null"].contains(text) { return .literal(text) }
                if try isNumber(text, at: node) { return .literal(text) }
            }
            return .string(try pieces(try node.string(), at: node))
        case .alias:
            throw node.error("YAML aliases are not supported in a body template")
        }
    }

    /// True when the plain scalar `text` is a JSON number a parser reads as written, false
    /// when it is no number at all (a string); throws when YAML or Swift would read it as a
    /// number that JSON can't carry as written (`01234`, `.5`, `0x10`, `nan`, `1e400`).
    static func isNumber(_ text: String, at node: ConfigNode) throws(ConfigurationError) -> Bool {
        if JSONNumber.isNumber(text) {
            // RFC 8259 §6: parsers read numbers as IEEE 754 doubles; beyond their range (or,
            // for integers, beyond ±(2^53-1)) the receiver gets another number than written.
            let isInteger = !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" })
            let readable = isInteger
                ? Int64(text).map { $0.magnitude <= 9_007_199_254_740_991 } ?? false
                : Double(text).map(\.isFinite) ?? false
            guard readable else {
                throw node.error("'\(text)' is beyond the numbers JSON parsers read exactly (RFC 8259 §6); quote it to send it as a string")
            }
            return true
        }
        guard Double(text) != nil || looksLikeYAMLNumber(text) else { return false }
        throw node.error("'\(text)' is not a JSON number (RFC 8259 §6); quote it to send the text as a string, "
            + "or write it as JSON does (0.5, not .5; 1, not +1 or 01; 16, not 0x10)")
    }

    /// The YAML 1.1 and 1.2 number forms Swift's `Double` doesn't read: `.inf`, `.nan`,
    /// `0o17`, `0b101`, `1_000`.
    private static func looksLikeYAMLNumber(_ text: String) -> Bool {
        let unsigned = text.hasPrefix("-") || text.hasPrefix("+") ? text.dropFirst() : Substring(text)
        let lower = unsigned.lowercased()
        if lower == ".inf" || lower == ".nan" { return true }
        if lower.hasPrefix("0o") || lower.hasPrefix("0b") { return lower.count > 2 }
        return lower.contains("_") && lower.first?.isNumber == true && lower.allSatisfy { $0.isNumber || $0 == "_" || $0 == "." }
    }

    /// A JSON text template's pieces: each placeholder outside a string literal becomes a
    /// JSON value, each one inside becomes escaped string content. Throws unless the text is
    /// valid JSON with every placeholder standing where a value or string content may.
    private static func jsonText(_ pieces: [Piece], at node: ConfigNode) throws(ConfigurationError) -> [Piece] {
        var lexer = JSONStringLexer()
        var result: [Piece] = []
        var skeleton: [UInt8] = []
        for piece in pieces {
            switch piece {
            case .text(let text):
                for byte in text.utf8 { lexer.advance(byte) }
                skeleton += text.utf8
                result.append(piece)
            case .placeholder(let placeholder), .stringContent(let placeholder):
                switch lexer.state {
                case .value:
                    skeleton += "null".utf8
                    result.append(.placeholder(placeholder))
                case .string:
                    result.append(.stringContent(placeholder))
                case .escape:
                    throw node.error("a placeholder follows an unfinished escape ('\\' or '\\u') in a JSON string: "
                        + "its value would complete the escape; finish the escape or remove the backslash")
                }
            }
        }
        do {
            _ = try JSONFormDecoder().decode(skeleton)
        } catch .jsonNotAnObject {
            // A lone string or number is valid JSON too.
        } catch {
            throw node.error("the text body is not valid JSON (read with each {{…}} outside a string as null: \(error)); "
                + "with a JSON content_type each {{…}} must stand for a whole value or sit inside a string, "
                + "or write the body as a YAML mapping")
        }
        return result
    }

    /// Splits `text` into literal text and `{{placeholders}}`.
    static func pieces(_ text: String, at node: ConfigNode) throws(ConfigurationError) -> [Piece] {
        var result: [Piece] = []
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            if open.lowerBound > rest.startIndex { result.append(.text(String(rest[..<open.lowerBound]))) }
            let after = rest[open.upperBound...]
            guard let close = after.range(of: "}}") else { throw node.error("'{{' without '}}' in '\(text)'") }
            let name = String(after[..<close.lowerBound])
            guard let placeholder = Placeholder(name) else {
                throw node.error("unknown placeholder {{\(name)}}; use transactionid, contact.email|id|phone|profile_url, field:NAME, meta.received_at|request_id|remote_addr, a section's last record like lead_status.score or campaigns_opened.name, extra.NAME or event")
            }
            result.append(.placeholder(placeholder))
            rest = after[close.upperBound...]
        }
        if !rest.isEmpty { result.append(.text(String(rest))) }
        return result
    }

    /// The body bytes for `delivery`.
    package func render(_ delivery: Delivery) -> [UInt8] {
        switch self {
        case .eventJSON:
            return delivery.json
        case .text(let pieces, let encoding):
            var output: [UInt8] = []
            for piece in pieces {
                switch piece {
                case .text(let text):
                    output += text.utf8
                case .placeholder(let placeholder) where encoding == .json:
                    if placeholder == .event {
                        output += delivery.json
                    } else {
                        output += placeholder.value(in: delivery).map { JSONWriter.quoted($0) } ?? Array("null".utf8)
                    }
                case .placeholder(let placeholder):
                    let value = placeholder.value(in: delivery) ?? ""
                    output += encoding == .formURLEncoded ? Self.percentEncode(value).utf8 : value.utf8
                case .stringContent(let placeholder):
                    output += JSONWriter.escaped(placeholder.value(in: delivery) ?? "")
                }
            }
            return output
        default:
            var writer = JSONWriter(capacity: 512)
            write(delivery, to: &writer)
            return writer.bytes
        }
    }

    private func write(_ delivery: Delivery, to writer: inout JSONWriter) {
        switch self {
        case .eventJSON, .text:
            writer.raw(String(decoding: delivery.json, as: UTF8.self))
        case .object(let members):
            writer.beginObject()
            for (key, value) in members {
                writer.key(key)
                value.write(delivery, to: &writer)
            }
            writer.endObject()
        case .array(let elements):
            writer.beginArray()
            for element in elements { element.write(delivery, to: &writer) }
            writer.endArray()
        case .literal(let text):
            writer.raw(text)
        case .string(let pieces):
            if pieces.count == 1, case .placeholder(let placeholder) = pieces[0] {
                if placeholder == .event {
                    writer.raw(String(decoding: delivery.json, as: UTF8.self))
                } else {
                    writer.optionalString(placeholder.value(in: delivery))
                }
                return
            }
            var text = ""
            for piece in pieces {
                switch piece {
                case .text(let literal): text += literal
                case .placeholder(let placeholder), .stringContent(let placeholder): text += placeholder.value(in: delivery) ?? ""
                }
            }
            writer.string(text)
        }
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters (a form value, or a value in a URL template).
    package static func percentEncode(_ text: String) -> String {
        var output = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                output += "%" + (byte < 16 ? "0" + hex : hex)
            }
        }
        return output
    }

    /// Equality by structure (tuples aren't Equatable by themselves).
    package static func == (lhs: BodyTemplate, rhs: BodyTemplate) -> Bool {
        switch (lhs, rhs) {
        case (.eventJSON, .eventJSON): return true
        case (.object(let a), .object(let b)): return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.array(let a), .array(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.literal(let a), .literal(let b)): return a == b
        case (.text(let a, let x), .text(let b, let y)): return a == b && x == y
        default: return false
        }
    }
}
