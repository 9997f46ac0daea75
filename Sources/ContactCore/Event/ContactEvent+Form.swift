extension ContactEvent {
    /// Flat shortcode parameters that fill `contact` rather than `fields`.
    static let flatContactKeys: Set<String> = ["id", "email", "phone", "profile_url"]

    /// Structured mode when any section key is present in a non-GET request, else shortcode mode.
    package static func mode(of form: FormArray, method: String) -> EventMode {
        if method == "GET" { return .shortcode }
        for entry in form.entries {
            // The sections' names are the structured POST's top-level keys.
            if case .string(let name) = entry.key, EventSection.named(name) != nil { return .structured }
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
                if let section = EventSection.named(name) {
                    try section.decode(&self, value)
                    continue
                }
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
}
