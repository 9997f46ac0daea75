/// One section of a contact event, in one place: its wire name, the keys of its records,
/// how the platform sends it, where it lives in `ContactEvent`, and the SQL table its
/// records land in. The form mapping (`EventEncoder`), the JSON writer, the stored-event reader, the SQL
/// handler's activity tables and the HTTP handler's placeholders all read `all`, so a new
/// section is one entry here (plus its record type and its `ContactEvent` property).
package struct EventSection: Sendable, Equatable {
    /// How the platform sends a section.
    package enum Shape: Sendable {
        /// One object (`contact[email]=…`).
        case object
        /// A list of objects (`fields[0][name]=…`).
        case list
        /// A list, or one object that stands for a list of one (`lead-status[score]=…`).
        case objectOrList
    }

    /// Where the SQL handler keeps a section's records: one row per record.
    package struct SQLTable: Sendable {
        /// The table's name.
        package var name: String
        /// One column per record key, in `keys` order.
        package var columns: [String]
        /// The keys whose column holds a whole number (any other value is NULL there; the
        /// text as sent stays in the event's JSON).
        package var wholeNumbers: Set<String> = []
    }

    /// The top-level key the platform sends (`campaigns-opened`).
    package let name: String
    /// The keys its records know, in the platform's order.
    package let keys: [String]
    /// How it is sent.
    package let shape: Shape
    /// Its SQL activity table; nil for `contact` and `fields`, which the SQL handler keeps
    /// as the contact's own row and fields.
    package let sqlTable: SQLTable?
    /// Writes the section's JSON value.
    let write: @Sendable (ContactEvent, inout JSONWriter) -> Void
    /// Reads the section's JSON value back from the stored event.
    let read: @Sendable (inout ContactEvent, inout StoredEventReader) throws(FormError) -> Void
    /// Each record's known values, in `keys` order.
    package let values: @Sendable (ContactEvent) -> [[String?]]

    /// Every section, in the order of the platform's payload and of the event's JSON.
    package static let all: [EventSection] = [
        .object("contact", \.contact),
        .list("fields", \.fields),
        .list("campaigns-opened", \.campaignsOpened,
              sql: SQLTable(name: "campaigns_opened", columns: ["campaign_id", "campaign_name", "opened_at"])),
        .list("links-clicked", \.linksClicked,
              sql: SQLTable(name: "links_clicked", columns: ["url", "clicks"], wholeNumbers: ["clicks"])),
        .list("pages-visited", \.pagesVisited,
              sql: SQLTable(name: "pages_visited", columns: ["page", "visited_at"])),
        .list("automation-triggered", \.automationTriggered,
              sql: SQLTable(name: "automations_triggered", columns: ["automation_id", "automation_name", "triggered_at"])),
        .list("goals-reached", \.goalsReached,
              sql: SQLTable(name: "goals_reached", columns: ["goal_id", "goal_name", "reached_at"])),
        .list("webhooks-triggered", \.webhooksTriggered,
              sql: SQLTable(name: "webhooks_triggered", columns: ["webhook_id", "webhook_name", "triggered_at"])),
        .list("lead-score", \.leadScore,
              sql: SQLTable(name: "lead_scores", columns: ["score_id", "score_name", "score", "scored_at"])),
        .list("lead-status", \.leadStatus, shape: .objectOrList,
              sql: SQLTable(name: "lead_statuses", columns: ["score", "label"])),
    ]

    /// Sections are told apart by name.
    package static func == (lhs: EventSection, rhs: EventSection) -> Bool { lhs.name == rhs.name }

    /// The section sent under `name`, or nil.
    package static func named(_ name: String) -> EventSection? {
        for section in all where section.name == name { return section }
        return nil
    }

    /// The value of `key` in the section's last record (the contact for `contact`), or nil.
    package func lastValue(of key: String, in event: ContactEvent) -> String? {
        guard let slot = keys.firstIndex(of: key) else { return nil }
        return values(event).last?[slot]
    }
}

extension EventSection {
    /// A section sent as one object, kept as one record.
    static func object<Record: SectionRecord>(_ name: String, _ path: WritableKeyPath<ContactEvent, Record> & Sendable) -> EventSection {
        EventSection(
            name: name, keys: Record.names, shape: .object, sqlTable: nil,
            write: { event, writer in event[keyPath: path].write(to: &writer) },
            read: { (event, reader) throws(FormError) in event[keyPath: path] = try reader.record(depth: 2) },
            values: { event in [Record.names.indices.map { event[keyPath: path][slot: $0] }] })
    }

    /// A section sent as a list of records (or, for `.objectOrList`, as one of them).
    static func list<Record: SectionRecord>(
        _ name: String, _ path: WritableKeyPath<ContactEvent, [Record]> & Sendable, shape: Shape = .list, sql: SQLTable? = nil
    ) -> EventSection {
        EventSection(
            name: name, keys: Record.names, shape: shape, sqlTable: sql,
            write: { event, writer in
                writer.beginArray()
                for record in event[keyPath: path] { record.write(to: &writer) }
                writer.endArray()
            },
            read: { (event, reader) throws(FormError) in
                // Stored as a list whatever the shape it was sent in.
                var records: [Record] = []
                try reader.list { (reader) throws(FormError) in records.append(try reader.record(depth: 3)) }
                event[keyPath: path] = records
            },
            values: { event in event[keyPath: path].map { record in Record.names.indices.map { record[slot: $0] } } })
    }
}
