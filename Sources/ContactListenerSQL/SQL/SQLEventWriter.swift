/// Writes one contact event into the normalized schema, inside a transaction the caller
/// opened, with the same statements on every dialect.
///
/// - The `events` row goes in first, with an insert that does nothing on a conflict: its
///   key (the hash of the transaction id) makes it the dedup gate. A redelivery, or the same
///   event handled at once by another process (whose insert waits on the first one's key
///   until it commits), finds the row and changes nothing else.
/// - The contact is inserted, or locked and merged: each value comes from the newest event
///   (by `received_at`, then key) that sent one, so an older event arriving late fills only
///   what no newer one sent; `first_seen_at` and `last_seen_at` span all events.
/// - Custom fields: the current value is the newest event's; `contact_field_history` holds
///   the changes over time, a late event taking its place in that order.
/// - Activity rows are recorded for every event, older ones included.
///
/// So the rows depend only on which events were stored, never on the order they arrived in
/// (the spool retries failed deliveries later, out of order).
import ContactListenerKit
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
        if let id = Self.sent(contact.id) { return SQLKey.contact(id: id) }
        guard let email = contact.email, !SQLKey.trimmed(email).isEmpty else { return nil }
        let rows = try session.query(
            """
            SELECT contact_key FROM contacts WHERE email_hash = ?
            ORDER BY CASE WHEN contact_id IS NULL THEN 1 ELSE 0 END, last_seen_at DESC, contact_key LIMIT 1
            """, [.text(SQLKey.email(email))])
        if let existing = rows.first?.first, let key = existing { return key }
        return SQLKey.contact(email: email)
    }

    /// A value the event did not really send: absent, or blank (`contact[phone]=`); it must
    /// not erase what another event brought.
    private static func sent(_ value: String?) -> String? {
        value.flatMap { SQLKey.trimmed($0).isEmpty ? nil : $0 }
    }

    private func mergeContact(_ contact: Contact, key: String, receivedAt: String, eventKey: String, session: some SQLSession) throws {
        let version = receivedAt + "/" + eventKey
        let id = Self.sent(contact.id), email = Self.sent(contact.email)
        let phone = Self.sent(contact.phone), profileURL = Self.sent(contact.profileURL)
        func stamped(_ value: String?) -> SQLValue { value == nil ? .null : .text(version) }
        let inserted = try session.execute(
            dialect.insertIgnoring(
                into: "contacts",
                columns: ["contact_key", "contact_id", "email", "email_hash", "phone", "profile_url",
                          "email_version", "phone_version", "profile_url_version",
                          "first_seen_at", "last_seen_at", "last_event_key"],
                conflict: ["contact_key"]),
            [.text(key), .optional(id), .optional(email), .optional(email.map(SQLKey.email)), .optional(phone), .optional(profileURL),
             stamped(email), stamped(phone), stamped(profileURL), .text(receivedAt), .text(receivedAt), .text(eventKey)])
        if inserted > 0 { return }

        let rows = try session.query(
            """
            SELECT contact_id, email, phone, profile_url, email_version, phone_version, profile_url_version,
              first_seen_at, last_seen_at, last_event_key FROM contacts WHERE contact_key = ?
            """ + dialect.forUpdate, [.text(key)])
        guard let row = rows.first, row.count == 10 else {
            throw SQLFailure("contact \(key) disappeared while this event was being stored")
        }
        // Each value comes from the newest event that sent one: a late, older event only
        // fills what no newer event has sent.
        func merged(_ new: String?, old: String?, oldVersion: String?) -> (value: String?, version: String?) {
            guard let new, (oldVersion ?? "") < version else { return (old, oldVersion) }
            return (new, version)
        }
        let mergedEmail = merged(email, old: row[1], oldVersion: row[4])
        let mergedPhone = merged(phone, old: row[2], oldVersion: row[5])
        let mergedProfile = merged(profileURL, old: row[3], oldVersion: row[6])
        let firstSeen = min(row[7] ?? receivedAt, receivedAt)
        let newest = (receivedAt, eventKey) > (row[8] ?? "", row[9] ?? "")
        try session.execute(
            """
            UPDATE contacts SET contact_id = ?, email = ?, email_hash = ?, phone = ?, profile_url = ?,
              email_version = ?, phone_version = ?, profile_url_version = ?,
              first_seen_at = ?, last_seen_at = ?, last_event_key = ? WHERE contact_key = ?
            """,
            [.optional(row[0] ?? id), .optional(mergedEmail.value), .optional(mergedEmail.value.map(SQLKey.email)),
             .optional(mergedPhone.value), .optional(mergedProfile.value),
             .optional(mergedEmail.version), .optional(mergedPhone.version), .optional(mergedProfile.version),
             .text(firstSeen), .text(newest ? receivedAt : (row[8] ?? receivedAt)), .text(newest ? eventKey : (row[9] ?? eventKey)),
             .text(key)])
    }

    private func mergeFields(_ fields: [Field], contactKey: String, receivedAt: String, eventKey: String, session: some SQLSession) throws {
        // A field sent twice in one event: the last value counts, as in a form.
        var order: [String] = []
        var latest: [String: Field] = [:]
        for field in fields {
            guard let key = SQLKey.field(field) else { continue }
            if latest.updateValue(field, forKey: key) == nil { order.append(key) }
        }
        let observe = dialect.insert(into: "contact_field_observations", columns: ["contact_key", "field_key", "event_key", "observed_at"])
        let insertField = dialect.insertIgnoring(
            into: "contact_fields",
            columns: ["contact_key", "field_key", "field_id", "field_name", "value", "updated_at", "event_key"],
            conflict: ["contact_key", "field_key"])
        for fieldKey in order {
            guard let field = latest[fieldKey] else { continue }
            try session.execute(observe, [.text(contactKey), .text(fieldKey), .text(eventKey), .text(receivedAt)])
            let inserted = try session.execute(insertField, [
                .text(contactKey), .text(fieldKey), .optional(field.id), .optional(field.name), .optional(field.value),
                .text(receivedAt), .text(eventKey),
            ])
            let change = FieldChange(contactKey: contactKey, fieldKey: fieldKey, eventKey: eventKey,
                                     fieldID: field.id, fieldName: field.name, at: receivedAt)
            if inserted > 0 {
                try recordChange(change, from: nil, to: field.value, session: session)
                continue
            }
            let rows = try session.query(
                "SELECT value, updated_at, event_key, field_id, field_name FROM contact_fields WHERE contact_key = ? AND field_key = ?"
                    + dialect.forUpdate, [.text(contactKey), .text(fieldKey)])
            guard let row = rows.first, row.count == 5 else {
                throw SQLFailure("field \(fieldKey) of contact \(contactKey) disappeared while this event was being stored")
            }
            if (receivedAt, eventKey) > (row[1] ?? "", row[2] ?? "") {
                // The newest value so far: it becomes current, and a change if it differs.
                try session.execute(
                    "UPDATE contact_fields SET field_id = ?, field_name = ?, value = ?, updated_at = ?, event_key = ? WHERE contact_key = ? AND field_key = ?",
                    [.optional(field.id), .optional(field.name), .optional(field.value), .text(receivedAt), .text(eventKey),
                     .text(contactKey), .text(fieldKey)])
                if row[0] != field.value { try recordChange(change, from: row[0], to: field.value, session: session) }
            } else {
                // A late event: the current value stays; its history is redrawn with it in place.
                try rebuildHistory(late: change, value: field.value, currentID: row[3], currentName: row[4], session: session)
            }
        }
    }

    /// One history row's identity and labels.
    private struct FieldChange {
        var contactKey: String
        var fieldKey: String
        var eventKey: String
        var fieldID: String?
        var fieldName: String?
        var at: String
    }

    private func recordChange(_ change: FieldChange, from old: String?, to new: String?, session: some SQLSession) throws {
        try session.execute(
            dialect.insert(
                into: "contact_field_history",
                columns: ["event_key", "field_key", "contact_key", "field_id", "field_name", "old_value", "new_value", "changed_at"]),
            [.text(change.eventKey), .text(change.fieldKey), .text(change.contactKey), .optional(change.fieldID),
             .optional(change.fieldName), .optional(old), .optional(new), .text(change.at)])
    }

    /// Redraws one field's history with a late event in its place in time. The values of the
    /// other events come from the history itself: an event with a history row set that row's
    /// value, any other one repeated the value before it.
    private func rebuildHistory(late: FieldChange, value: String?, currentID: String?, currentName: String?, session: some SQLSession) throws {
        let arguments: [SQLValue] = [.text(late.contactKey), .text(late.fieldKey)]
        let observations = try session.query(
            "SELECT event_key, observed_at FROM contact_field_observations WHERE contact_key = ? AND field_key = ?", arguments)
            .map { (event: $0[0] ?? "", at: $0[1] ?? "") }
            .sorted { ($0.at, $0.event) < ($1.at, $1.event) }
        var existing: [String: (id: String?, name: String?, value: String?)] = [:]
        for row in try session.query(
            "SELECT event_key, field_id, field_name, new_value FROM contact_field_history WHERE contact_key = ? AND field_key = ?",
            arguments) where row.count == 4 {
            existing[row[0] ?? ""] = (row[1], row[2], row[3])
        }
        var values: [String: String?] = [late.eventKey: value]
        var running: String?
        for observation in observations where observation.event != late.eventKey {
            if let row = existing[observation.event] { running = row.value }
            values[observation.event] = running
        }
        try session.execute("DELETE FROM contact_field_history WHERE contact_key = ? AND field_key = ?", arguments)
        var previous: String??
        for observation in observations {
            let current = values[observation.event] ?? nil
            defer { previous = .some(current) }
            if let before = previous, before == current { continue }
            var change = late
            change.eventKey = observation.event
            change.at = observation.at
            if observation.event != late.eventKey {
                let labels = existing[observation.event]
                change.fieldID = labels?.id ?? currentID
                change.fieldName = labels?.name ?? currentName
            }
            try recordChange(change, from: previous ?? nil, to: current, session: session)
        }
    }
}
