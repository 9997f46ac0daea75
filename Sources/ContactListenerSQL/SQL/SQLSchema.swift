/// The normalized schema every database handler creates and migrates: the same tables,
/// columns and keys in SQLite, PostgreSQL and MariaDB/MySQL.
///
/// - `events`: one row per event, unique on the hash of its transaction id (the dedup gate);
/// - `contacts`: one row per contact, keyed on its id, else its email;
/// - `contact_fields`: each contact's current value per custom field, and
///   `contact_field_history`: every change applied to one of those values;
/// - one activity table per section (`SQLActivityTable.all`).
import ContactListenerKit
enum SQLSchema {
    /// `events`: the raw JSON of every stored event.
    static let events = SQLTable(
        name: "events",
        columns: [
            SQLColumn(name: "event_key", kind: .key, nullable: false),
            SQLColumn(name: "transaction_id", kind: .text),
            SQLColumn(name: "request_id", kind: .text, nullable: false),
            SQLColumn(name: "contact_key", kind: .key),
            SQLColumn(name: "received_at", kind: .stamp, nullable: false),
            SQLColumn(name: "json", kind: .text, nullable: false),
        ],
        primaryKey: ["event_key"],
        indexes: [("events_contact", ["contact_key"])])

    /// `contacts`: who each event is about, as of the newest event seen.
    static let contacts = SQLTable(
        name: "contacts",
        columns: [
            SQLColumn(name: "contact_key", kind: .key, nullable: false),
            SQLColumn(name: "contact_id", kind: .text),
            SQLColumn(name: "email", kind: .text),
            SQLColumn(name: "email_hash", kind: .key),
            SQLColumn(name: "phone", kind: .text),
            SQLColumn(name: "profile_url", kind: .text),
            // Which event set each value: the newest event that sent a value wins, whatever
            // the order the events arrive in.
            SQLColumn(name: "email_version", kind: .version),
            SQLColumn(name: "phone_version", kind: .version),
            SQLColumn(name: "profile_url_version", kind: .version),
            SQLColumn(name: "first_seen_at", kind: .stamp, nullable: false),
            SQLColumn(name: "last_seen_at", kind: .stamp, nullable: false),
            SQLColumn(name: "last_event_key", kind: .key, nullable: false),
        ],
        primaryKey: ["contact_key"],
        indexes: [("contacts_email", ["email_hash"])])

    /// `contact_fields`: the current value of each custom field of each contact.
    static let contactFields = SQLTable(
        name: "contact_fields",
        columns: [
            SQLColumn(name: "contact_key", kind: .key, nullable: false),
            SQLColumn(name: "field_key", kind: .key, nullable: false),
            SQLColumn(name: "field_id", kind: .text),
            SQLColumn(name: "field_name", kind: .text),
            SQLColumn(name: "value", kind: .text),
            SQLColumn(name: "updated_at", kind: .stamp, nullable: false),
            SQLColumn(name: "event_key", kind: .key, nullable: false),
        ],
        primaryKey: ["contact_key", "field_key"])

    /// `contact_field_observations`: which events sent each field of a contact, and when;
    /// what lets a late event take its place in `contact_field_history`.
    static let contactFieldObservations = SQLTable(
        name: "contact_field_observations",
        columns: [
            SQLColumn(name: "contact_key", kind: .key, nullable: false),
            SQLColumn(name: "field_key", kind: .key, nullable: false),
            SQLColumn(name: "event_key", kind: .key, nullable: false),
            SQLColumn(name: "observed_at", kind: .stamp, nullable: false),
        ],
        primaryKey: ["contact_key", "field_key", "event_key"])

    /// `contact_field_history`: the changes of each field's value over time. Events are put
    /// in order by `received_at` (then key), and each one whose value differs from the one
    /// before it is a row, with the value before and after (`old_value` NULL for the first).
    /// An event arriving late takes its place in that order, so the history is the same
    /// whatever order the events were delivered in.
    static let contactFieldHistory = SQLTable(
        name: "contact_field_history",
        columns: [
            SQLColumn(name: "event_key", kind: .key, nullable: false),
            SQLColumn(name: "field_key", kind: .key, nullable: false),
            SQLColumn(name: "contact_key", kind: .key, nullable: false),
            SQLColumn(name: "field_id", kind: .text),
            SQLColumn(name: "field_name", kind: .text),
            SQLColumn(name: "old_value", kind: .text),
            SQLColumn(name: "new_value", kind: .text),
            SQLColumn(name: "changed_at", kind: .stamp, nullable: false),
        ],
        primaryKey: ["event_key", "field_key"],
        indexes: [("contact_field_history_field", ["contact_key", "field_key"])])

    /// Every table, in creation order.
    static var tables: [SQLTable] {
        [events, contacts, contactFields, contactFieldObservations, contactFieldHistory] + SQLActivityTable.all.map(\.table)
    }

    /// The migrations in order: a version number and its statements for a dialect. A new
    /// schema change is appended here as the next version, never edited into an old one.
    static let migrations: [(version: Int, statements: @Sendable (SQLDialect) -> [String])] = [
        (1, { dialect in tables.flatMap { $0.createStatements(dialect) } }),
    ]
}
