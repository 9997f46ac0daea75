import ContactListenerKit
import Crypto

/// The keys the database handlers build rows on. Uniqueness never rests on a raw value (the
/// platform's ids and emails can be any length; PostgreSQL's btree rows stop near 8 KB and
/// InnoDB's keys at 3072 bytes): every key is the SHA-256 of a value, as 64 hex characters.
package enum SQLKey {
    /// The SHA-256 of `text`'s UTF-8 bytes, lowercase hex.
    package static func hash(_ text: String) -> String {
        var text = text
        return text.withUTF8 { utf8 in
            SHA256.hash(data: UnsafeRawBufferPointer(utf8)).withUnsafeBytes { Hex.encode($0) }
        }
    }

    /// The event's key: the hash of its transaction id, or of the listener's request id
    /// when the platform sent none (a GET shortcode), so a redelivery finds its first copy.
    static func event(_ event: ContactEvent) -> String {
        if let transactionID = event.transactionID, !transactionID.isEmpty { return hash(transactionID) }
        return hash(event.metadata.requestID)
    }

    /// The contact's own key when it has a platform id.
    package static func contact(id: String) -> String { hash("id:" + id) }

    /// The key of a contact known only by its email (compared trimmed and lowercased).
    package static func contact(email: String) -> String { hash("email:" + normalized(email: email)) }

    /// The hash of an email as the `contacts.email_hash` lookup column holds it.
    static func email(_ email: String) -> String { hash(normalized(email: email)) }

    /// A custom field's key within its contact: its id, else its name; nil when it has neither.
    static func field(_ field: Field) -> String? {
        if let id = field.id, !id.isEmpty { return hash("id:" + id) }
        if let name = field.name, !name.isEmpty { return hash("name:" + name) }
        return nil
    }

    /// Emails differ only in case and surrounding blanks as the platform sends them; the
    /// stored value keeps what was sent.
    package static func normalized(email: String) -> String {
        String(trimmed(email)).lowercased()
    }

    /// `text` without leading and trailing spaces, tabs and line breaks.
    package static func trimmed(_ text: String) -> Substring {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        guard let first = text.firstIndex(where: { !isBlank($0) }), let last = text.lastIndex(where: { !isBlank($0) }) else {
            return ""
        }
        return text[first...last]
    }
}
