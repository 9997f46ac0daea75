/// One activity section of an event (campaigns opened, links clicked, …) and the table it
/// lands in: one row per record, keyed on the event and the record's position in it, so a
/// row is written exactly once with its event and is never merged with another. The
/// tables and their columns come from the event's section table (`EventSection.all`).
import ContactListenerKit
struct SQLActivityTable: Sendable {
    /// The section whose records the table holds.
    var section: EventSection
    /// Where they land.
    var layout: EventSection.SQLTable

    /// The table's name.
    var name: String { layout.name }

    /// The section's own columns (after the shared `event_key, position, contact_key, received_at`).
    var columns: [SQLColumn] {
        // Nullable text, but for whole numbers: the platform's values (ids and dates
        // included) are free text of any length.
        layout.columns.indices.map { index in
            SQLColumn(name: layout.columns[index], kind: isWholeNumber(index) ? .integer : .text)
        }
    }

    /// The section's records as rows of values, in `columns` order.
    func rows(_ event: ContactEvent) -> [[SQLValue]] {
        section.values(event).map { values in
            values.indices.map { index in isWholeNumber(index) ? Self.wholeNumber(values[index]) : .optional(values[index]) }
        }
    }

    /// The columns every activity table starts with.
    static let sharedColumns: [SQLColumn] = [
        SQLColumn(name: "event_key", kind: .key, nullable: false),
        SQLColumn(name: "position", kind: .integer, nullable: false),
        SQLColumn(name: "contact_key", kind: .key),
        SQLColumn(name: "received_at", kind: .stamp, nullable: false),
    ]

    /// The table definition.
    var table: SQLTable {
        SQLTable(name: name, columns: Self.sharedColumns + columns, primaryKey: ["event_key", "position"],
                 indexes: [("\(name)_contact", ["contact_key"])])
    }

    /// Every activity section, in the platform's order.
    static let all: [SQLActivityTable] = EventSection.all.compactMap { section in
        section.sqlTable.map { SQLActivityTable(section: section, layout: $0) }
    }

    private func isWholeNumber(_ index: Int) -> Bool {
        layout.wholeNumbers.contains(section.keys[index])
    }

    /// A whole number (`clicks`); anything else (absent, empty, not a whole number) is NULL,
    /// and the value as sent stays in `events.json`.
    private static func wholeNumber(_ text: String?) -> SQLValue {
        guard let text, let count = Int64(SQLKey.trimmed(text)) else { return .null }
        return .integer(count)
    }
}
