extension ContactEvent {
    /// The top-level keys of the structured POST; any of them present means structured mode.
    package static let sectionNames: [String] = [
        "contact", "fields", "campaigns-opened", "links-clicked", "pages-visited",
        "automation-triggered", "goals-reached", "webhooks-triggered", "lead-score", "lead-status",
    ]

    /// Flat shortcode parameters that fill `contact` rather than `fields`.
    static let flatContactKeys: Set<String> = ["id", "email", "phone", "profile_url"]

    /// Structured mode when any section key is present in a non-GET request, else shortcode mode.
    package static func mode(of form: FormArray, method: String) -> EventMode {
        if method == "GET" { return .shortcode }
        for entry in form.entries {
            if case .string(let name) = entry.key, sectionNames.contains(name) { return .structured }
        }
        return .shortcode
    }

    /// Maps a decoded request (`$_REQUEST`-style tree) to an event.
    ///
    /// Structured sections decode in both modes. In shortcode mode, flat `transactionid`,
    /// `email`, `phone`, `id` and `profile_url` fill the event and `contact` (a structured
    /// `contact[…]` value wins), and every other flat parameter becomes a `fields` entry
    /// `{name, value}` in query order (a structured `fields[…]` section takes its place in
    /// that order, so neither replaces the other). Anything else goes to `extra`.
    package init(form: FormArray, metadata: EventMetadata) throws(EventError) {
        self.init(metadata: metadata)
        let shortcode = metadata.mode == .shortcode
        var flatContact: [(String, String)] = []
        for (key, value) in form.entries {
            if case .string(let name) = key {
                if name == "transactionid" {
                    guard case .string(let text) = value else { throw .expectedString(key: name) }
                    transactionID = text
                    continue
                }
                if try decodeSection(name, value) { continue }
                if shortcode, Self.flatContactKeys.contains(name) {
                    // Like `transactionid`: a contact value sent as an array is malformed,
                    // not an extra (`contact[email][]` is refused the same way).
                    guard case .string(let text) = value else { throw .expectedString(key: name) }
                    flatContact.append((name, text))
                    continue
                }
            }
            if shortcode, case .string(let text) = value {
                // PHP makes `?5=x` an integer key; it is still a flat parameter.
                fields.append(Field(name: key.description, value: text))
            } else {
                extra[key] = value
            }
        }
        for (name, text) in flatContact {
            guard let slot = Contact.slot(of: name) else { continue }
            if contact[slot: slot] == nil { contact[slot: slot] = text }
        }
    }

    /// Decodes one structured section; false when `name` is not a section.
    private mutating func decodeSection(_ name: String, _ value: FormValue) throws(EventError) -> Bool {
        switch name {
        case "contact":
            guard case .array(let array) = value else { throw .expectedArray(key: name) }
            contact = try Contact(form: array, section: name, index: nil)
        case "fields":
            // Appended: in shortcode mode flat parameters before it are fields too.
            fields += try Self.records(value, section: name) as [Field]
        case "campaigns-opened": campaignsOpened = try Self.records(value, section: name)
        case "links-clicked": linksClicked = try Self.records(value, section: name)
        case "pages-visited": pagesVisited = try Self.records(value, section: name)
        case "automation-triggered": automationTriggered = try Self.records(value, section: name)
        case "goals-reached": goalsReached = try Self.records(value, section: name)
        case "webhooks-triggered": webhooksTriggered = try Self.records(value, section: name)
        case "lead-score": leadScore = try Self.records(value, section: name)
        case "lead-status":
            // Sent as one `{score,label}` object, or as a list of them. Only integer keys
            // make a list: deciding by "has a string leaf" took `lead-status[score][]=1`
            // for a list and accepted it silently instead of refusing `lead-status[score]`.
            guard case .array(let array) = value else { throw .expectedArray(key: name) }
            let isList = array.entries.allSatisfy { if case .int = $0.key { return true } else { return false } }
            if isList {
                leadStatus = try Self.records(value, section: name)
            } else {
                leadStatus = [try LeadStatus(form: array, section: name, index: nil)]
            }
        default:
            return false
        }
        return true
    }

    /// The records of a list section, in the order sent (keys need not be `0..n-1`).
    private static func records<Record: SectionRecord>(_ value: FormValue, section: String) throws(EventError) -> [Record] {
        guard case .array(let list) = value else { throw .expectedArray(key: section) }
        var records: [Record] = []
        records.reserveCapacity(list.count)
        for (key, entry) in list.entries {
            guard case .array(let array) = entry else { throw .expectedArray(key: "\(section)[\(key)]") }
            records.append(try Record(form: array, section: section, index: key))
        }
        return records
    }
}
