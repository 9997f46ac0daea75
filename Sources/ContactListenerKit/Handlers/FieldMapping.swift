/// A handler's `map:`: renames custom fields (matched by name or id) and drops others,
/// before the handler sees the event. Checked when the configuration loads, so a mapping
/// mistake is reported by `check-config`, never at request time.
///
/// ```yaml
/// map:
///   fields:
///     "First Name": first_name   # by name
///     "17": company              # by field id
///   drop: ["Internal Notes"]
/// ```
/// GET shortcode parameters are `fields` entries too (`?first=…` is the field `first`), so
/// the same keys map them.
package struct FieldMapping: Sendable, Equatable {
    /// New names, keyed by a field's name or id.
    package var rename: [String: String] = [:]
    /// Names or ids of fields to leave out.
    package var drop: Set<String> = []

    /// No mapping.
    package init() {}

    /// True when the mapping changes nothing.
    package var isEmpty: Bool { rename.isEmpty && drop.isEmpty }

    /// Parses a handler's `map:` mapping.
    package init(node: ConfigNode) throws(ConfigurationError) {
        try node.requireMapping(allowed: ["fields", "drop"])
        if let fields = node["fields"] {
            try fields.requireMapping(allowed: fields.keys)
            for key in fields.keys {
                guard let target = fields[key] else { throw fields.error("'\(key)' maps to nothing; give the new name") }
                let name = try target.string()
                if name.isEmpty { throw target.error("the new name can't be empty") }
                rename[key] = name
            }
        }
        if let drop = node["drop"] {
            self.drop = Set(try drop.stringList())
        }
        if let both = drop.intersection(rename.keys).first {
            throw node.error("'\(both)' is both renamed and dropped; keep one")
        }
    }

    /// The event with its fields renamed and dropped.
    package func apply(to event: ContactEvent) -> ContactEvent {
        if isEmpty { return event }
        var mapped = event
        mapped.fields = event.fields.compactMap { field in
            let keys = [field.id, field.name].compactMap { $0 }
            if keys.contains(where: drop.contains) { return nil }
            guard let newName = keys.lazy.compactMap({ rename[$0] }).first else { return field }
            var renamed = field
            renamed.name = newName
            return renamed
        }
        return mapped
    }
}
