@preconcurrency import Yams

/// The body an `http` handler sends: the event's JSON, or a template that builds a CRM's
/// shape from it. Compiled when the configuration loads, so an unknown `{{…}}` is a
/// `check-config` error, not a failure at delivery time.
///
/// A YAML mapping or list becomes JSON: strings are templates (a string that is exactly one
/// placeholder becomes `null` when the event lacks the value), other scalars stay as written.
/// A YAML string is a text template (values percent-encoded when the content type is
/// `application/x-www-form-urlencoded`).
public indirect enum BodyTemplate: Sendable, Equatable {
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
    /// A non-JSON text body.
    case text([Piece], formEncoded: Bool)

    /// Literal text or a placeholder.
    public enum Piece: Sendable, Equatable {
        /// Text copied as is.
        case text(String)
        /// A value looked up in the event.
        case placeholder(Placeholder)
    }

    /// Compiles the `body:` option (nil means the event's JSON).
    public static func compile(_ node: ConfigNode?, contentType: String) throws(ConfigurationError) -> BodyTemplate {
        guard let node else { return .eventJSON }
        if node.node.scalar != nil {
            return .text(try pieces(try node.string(), at: node), formEncoded: contentType.hasPrefix("application/x-www-form-urlencoded"))
        }
        return try compileJSON(node)
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
                if ["true", "false", "null"].contains(text) || Double(text) != nil { return .literal(text) }
            }
            return .string(try pieces(try node.string(), at: node))
        case .alias:
            throw node.error("YAML aliases are not supported in a body template")
        }
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
                throw node.error("unknown placeholder {{\(name)}}; use transactionid, contact.email|id|phone|profile_url, field:NAME, meta.received_at|request_id|remote_addr, lead_status.score|label, extra.NAME or event")
            }
            result.append(.placeholder(placeholder))
            rest = after[close.upperBound...]
        }
        if !rest.isEmpty { result.append(.text(String(rest))) }
        return result
    }

    /// The body bytes for `delivery`.
    public func render(_ delivery: Delivery) -> [UInt8] {
        switch self {
        case .eventJSON:
            return delivery.json
        case .text(let pieces, let formEncoded):
            var output = ""
            for piece in pieces {
                switch piece {
                case .text(let text): output += text
                case .placeholder(let placeholder):
                    let value = placeholder.value(in: delivery) ?? ""
                    output += formEncoded ? Self.percentEncode(value) : value
                }
            }
            return Array(output.utf8)
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
                case .placeholder(let placeholder): text += placeholder.value(in: delivery) ?? ""
                }
            }
            writer.string(text)
        }
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters.
    static func percentEncode(_ text: String) -> String {
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
    public static func == (lhs: BodyTemplate, rhs: BodyTemplate) -> Bool {
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
