/// Writes one contact event into the normalized schema, inside a transaction the caller
/// opened, with the same statements on every dialect.
///
/// - The `events` row goes in first, with an insert that does nothing on a conflict: its
///   key (the hash of the transaction id) makes it the dedup gate. A redelivery, or the same
///   event handled at once by another process (whose insert waits on the first one's key
///   until it commits), finds the row and changes nothing else.
/// - The contact is inserted, or locked and merged: a newer event (by `received_at`) wins
///   for every value it carries; an older one arriving late only fills values still missing
///   and moves `first_seen_at` back.
/// - Custom fields: the current value changes only for a newer event, and each change is
///   logged in `contact_field_history`.
/// - Activity rows are recorded for every event, older ones included.
struct SQLEventWriter: Sendable {
    /// The dialect the statements are written in.
    let dialect: SQLDialect

    /// What writing an event did.
    enum Outcome: Sendable, Equatable {
        /// The event was new and is stored.
        case stored
        /// An event with the same key was already stored; nothing changed.
        case duplicate
    }

    /// Writes `event` (whose JSON is `json`) through `session`.
    func write(_ event: ContactEvent, json: [UInt8], to session: some SQLSession) throws -> Outcome {
        let eventKey = SQLKey.event(event)
        // Our own RFC 3339 stamp, 24 characters; the cap only guards the column's width.
        let receivedAt = String(event.metadata.receivedAt.prefix(40))
        let contactKey = try resolveContactKey(event.contact, session: session)
        let inserted = try session.execute(
            dialect.insertIgnoring(
                into: "events", columns: ["event_key", "transaction_id", "request_id", "contact_key", "received_at", "json"],
                conflict: ["event_key"]),
            [.text(eventKey), .optional(event.transactionID), .text(event.metadata.requestID), .optional(contactKey),
             .text(receivedAt), .text(String(decoding: json, as: UTF8.self))])
        if inserted == 0 { return .duplicate }

        if let contactKey {
            try mergeContact(event.contact, key: contactKey, receivedAt: receivedAt, eventKey: eventKey, session: session)
            try mergeFields(event.fields, contactKey: contactKey, receivedAt: receivedAt, eventKey: eventKey, session: session)
        }
        for activity in SQLActivityTable.all {
            let columns = SQLActivityTable.sharedColumns.map(\.name) + activity.columns.map(\.name)
            let sql = dialect.insert(into: activity.name, columns: columns)
            for (position, values) in activity.rows(event).enumerated() {
                try session.execute(sql, [.text(eventKey), .integer(Int64(position)), .optional(contactKey), .text(receivedAt)] + values)
            }
        }
        return .stored
    }

    /// The contact's key: its id; else the contact already stored with this email (one with
    /// an id first, then the most recently seen), else a key of the email itself. A contact
    /// with neither id nor email has no key: its activity rows are kept without one.
    private func resolveContactKey(_ contact: Contact, session: some SQLSession) throws -> String? {
        if let id = contact.id, !id.isEmpty { return SQLKey.contact(id: id) }
        guard let email = contact.email, !SQLKey.trimmed(email).isEmpty else { return nil }
        let rows = try session.query(
            """
            SELECT contact_key FROM contacts WHERE email_hash = ?
            ORDER BY CASE WHEN contact_id IS NULL THEN 1 ELSE 0 END, last_seen_at DESC, contact_key LIMIT 1
            """, [.text(SQLKey.email(email))])
        if let existing = rows.first?.first, let key = existing { return key }
        return SQLKey.contact(email: email)
    }

    private func mergeContact(_ contact: Contact, key: String, receivedAt: String, eventKey: String, session: some SQLSession) throws {
        // Blank values count as not sent: they must not erase what an older event brought.
        let id = contact.id.flatMap { $0.isEmpty ? nil : $0 }
        let email = contact.email.flatMap { SQLKey.trimmed($0).isEmpty ? nil : $0 }
        let inserted = try session.execute(
            dialect.insertIgnoring(
                into: "contacts",
                columns: ["contact_key", "contact_id", "email", "email_hash", "phone", "profile_url",
                          "first_seen_at", "last_seen_at", "last_event_key"],
                conflict: ["contact_key"]),
            [.text(key), .optional(id), .optional(email), .optional(email.map(SQLKey.email)), .optional(contact.phone),
             .optional(contact.profileURL), .text(receivedAt), .text(receivedAt), .text(eventKey)])
        if inserted > 0 { return }

        let rows = try session.query(
            "SELECT contact_id, email, phone, profile_url, first_seen_at, last_seen_at, last_event_key FROM contacts WHERE contact_key = ?"
                + dialect.forUpdate, [.text(key)])
        guard let row = rows.first, row.count == 7 else {
            throw SQLFailure("contact \(key) disappeared while this event was being stored")
        }
        let firstSeen = row[4] ?? receivedAt
        let lastSeen = row[5] ?? receivedAt
        // Equal stamps count as newer: of two events in the same millisecond, the later write wins.
        let newer = receivedAt >= lastSeen
        func merged(_ new: String?, _ old: String?) -> String? { newer ? (new ?? old) : (old ?? new) }
        let mergedEmail = merged(email, row[1])
        try session.execute(
            """
            UPDATE contacts SET contact_id = ?, email = ?, email_hash = ?, phone = ?, profile_url = ?,
              first_seen_at = ?, last_seen_at = ?, last_event_key = ? WHERE contact_key = ?
            """,
            [.optional(merged(id, row[0])), .optional(mergedEmail), .optional(mergedEmail.map(SQLKey.email)),
             .optional(merged(contact.phone, row[2])), .optional(merged(contact.profileURL, row[3])),
             .text(min(firstSeen, receivedAt)), .text(max(lastSeen, receivedAt)),
             .text(newer ? eventKey : (row[6] ?? eventKey)), .text(key)])
    }

    private func mergeFields(_ fields: [Field], contactKey: String, receivedAt: String, eventKey: String, session: some SQLSession) throws {
        // A field sent twice in one event: the last value counts, as in a form.
        var order: [String] = []
        var latest: [String: Field] = [:]
        for field in fields {
            guard let key = SQLKey.field(field) else { continue }
            if latest.updateValue(field, forKey: key) == nil { order.append(key) }
        }
        let insertField = dialect.insertIgnoring(
            into: "contact_fields",
            columns: ["contact_key", "field_key", "field_id", "field_name", "value", "updated_at", "event_key"],
            conflict: ["contact_key", "field_key"])
        let insertHistory = dialect.insert(
            into: "contact_field_history",
            columns: ["event_key", "field_key", "contact_key", "field_id", "field_name", "old_value", "new_value", "changed_at"])
        for fieldKey in order {
            guard let field = latest[fieldKey] else { continue }
            let inserted = try session.execute(insertField, [
                .text(contactKey), .text(fieldKey), .optional(field.id), .optional(field.name), .optional(field.value),
                .text(receivedAt), .text(eventKey),
            ])
            var oldValue: String?
            if inserted == 0 {
                let rows = try session.query(
                    "SELECT value, updated_at FROM contact_fields WHERE contact_key = ? AND field_key = ?" + dialect.forUpdate,
                    [.text(contactKey), .text(fieldKey)])
                guard let row = rows.first, row.count == 2 else {
                    throw SQLFailure("field \(fieldKey) of contact \(contactKey) disappeared while this event was being stored")
                }
                // An older event never overwrites the current value.
                guard receivedAt >= (row[1] ?? "") else { continue }
                try session.execute(
                    "UPDATE contact_fields SET field_id = ?, field_name = ?, value = ?, updated_at = ?, event_key = ? WHERE contact_key = ? AND field_key = ?",
                    [.optional(field.id), .optional(field.name), .optional(field.value), .text(receivedAt), .text(eventKey),
                     .text(contactKey), .text(fieldKey)])
                if row[0] == field.value { continue }
                oldValue = row[0]
            }
            try session.execute(insertHistory, [
                .text(eventKey), .text(fieldKey), .text(contactKey), .optional(field.id), .optional(field.name),
                .optional(oldValue), .optional(field.value), .text(receivedAt),
            ])
        }
    }
}
