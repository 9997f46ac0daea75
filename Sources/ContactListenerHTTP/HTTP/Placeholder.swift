/// A `{{…}}` lookup in an HTTP body template, resolved against an event.
///
/// `{{transactionid}}`, `{{contact.email}}` (`id`, `phone`, `profile_url`),
/// `{{field:First Name}}` (a custom field by name or id), `{{meta.received_at}}`
/// (`remote_addr`, `request_id`, `method`, `mode`), `{{SECTION.KEY}}` for any other section
/// of the event (`{{lead_status.score}}`, `{{campaigns_opened.name}}`: the last record sent;
/// `-` or `_` in the section's name), `{{extra.NAME}}` (a top-level parameter outside the
/// model), `{{event}}` (the whole event as JSON). A prefix transforms the value:
/// `{{lowercase:contact.email}}`, `{{trim:…}}`, `{{md5:…}}` (hex; Mailchimp's subscriber
/// hash is `{{md5:lowercase:trim:contact.email}}`).
import ContactListenerKit
import Crypto
package indirect enum Placeholder: Sendable, Equatable {
    /// `{{transactionid}}`.
    case transactionID
    /// `{{SECTION.KEY}}` (`contact.email`, `lead_status.score`): the last record's value.
    case section(EventSection, key: String)
    /// `{{field:NAME_OR_ID}}`.
    case field(String)
    /// `{{meta.KEY}}`.
    case meta(String)
    /// `{{extra.NAME}}`.
    case extra(String)
    /// `{{event}}`: the event's JSON, inserted as JSON.
    case event
    /// `{{lowercase:…}}`, `{{trim:…}}`, `{{md5:…}}`: the inner value transformed.
    case transformed(Transform, Placeholder)

    /// What a prefix does to a value.
    package enum Transform: String, Sendable, Equatable, CaseIterable {
        /// Lower case (Unicode).
        case lowercase
        /// Without leading and trailing spaces, tabs and line breaks.
        case trim
        /// The MD5 of the value's UTF-8 bytes, lowercase hex (an identifier some APIs key
        /// on, not a secret: MD5 protects nothing).
        case md5

        func apply(_ value: String) -> String {
            switch self {
            case .lowercase: return value.lowercased()
            case .trim: return value.trimmingCharacters(in: " \t\r\n")
            case .md5:
                var value = value
                return value.withUTF8 { bytes in
                    Insecure.MD5.hash(data: UnsafeRawBufferPointer(bytes)).withUnsafeBytes { Hex.encode($0) }
                }
            }
        }
    }

    /// Parses the text between `{{` and `}}`; nil explains nothing, the caller names the key.
    package init?(_ text: String) {
        let path = text.trimmingCharacters(in: " ")
        for transform in Transform.allCases where path.hasPrefix(transform.rawValue + ":") {
            guard let inner = Placeholder(String(path.dropFirst(transform.rawValue.count + 1))) else { return nil }
            self = .transformed(transform, inner)
            return
        }
        if path == "transactionid" { self = .transactionID; return }
        if path == "event" { self = .event; return }
        if path.hasPrefix("field:") {
            let name = String(path.dropFirst(6))
            guard !name.isEmpty else { return nil }
            self = .field(name)
            return
        }
        let parts = path.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        switch parts[0] {
        case "meta" where ["received_at", "remote_addr", "request_id", "method", "mode"].contains(parts[1]): self = .meta(parts[1])
        case "extra": self = .extra(parts[1])
        default:
            let name = parts[0].replacingOccurrences(of: "_", with: "-")
            guard let section = EventSection.named(name), section.keys.contains(parts[1]) else { return nil }
            self = .section(section, key: parts[1])
        }
    }

    /// The placeholder under its transforms (itself when it has none).
    package var innermost: Placeholder {
        if case .transformed(_, let inner) = self { return inner.innermost }
        return self
    }

    /// The value for `delivery`, or nil when the event doesn't have it.
    package func value(in delivery: Delivery) -> String? {
        let event = delivery.event
        switch self {
        case .transformed(let transform, let inner): return inner.value(in: delivery).map(transform.apply)
        case .transactionID: return event.transactionID
        case .section(let section, let key): return section.lastValue(of: key, in: event)
        case .field(let name): return event.fields.last { $0.name == name || $0.id == name }?.value
        case .extra(let name): return event.extra[name]?.stringValue
        case .event: return String(decoding: delivery.json, as: UTF8.self)
        case .meta(let key):
            switch key {
            case "received_at": return event.metadata.receivedAt
            case "remote_addr": return event.metadata.remoteAddress
            case "request_id": return event.metadata.requestID
            case "method": return event.metadata.method
            default: return event.metadata.mode.rawValue
            }
        }
    }
}
