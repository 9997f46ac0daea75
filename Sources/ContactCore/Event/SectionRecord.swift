/// One entry of a contact event's section (a custom field, an opened campaign, …).
///
/// Each record type lists its known keys once (`names`) and reaches their values by
/// position (`subscript(slot:)`); decoding, JSON output and handlers all go through that,
/// so adding a key is a two-line change. Positions rather than key paths: applying a key
/// path costs a runtime call per value.
public protocol SectionRecord: Sendable, Equatable {
    /// The known keys in the platform's order.
    static var names: [String] { get }
    /// The value of the known key `names[slot]`.
    subscript(slot slot: Int) -> String? { get set }
    /// Keys the platform sent that this type doesn't know, kept rather than dropped.
    var extra: FormArray { get set }
    /// An empty record.
    init()
}

extension SectionRecord {
    /// The value of a known key by its wire name (`"profile_url"`), or nil.
    public subscript(name: String) -> String? {
        Self.slot(of: name).flatMap { self[slot: $0] }
    }

    /// The position of a known key in `names`, or nil.
    static func slot(of name: String) -> Int? {
        let names = Self.names
        for slot in names.indices where names[slot] == name { return slot }
        return nil
    }

    /// Writes the record as a JSON object: every known key (null when absent), then
    /// `extra` when the platform sent keys we don't know.
    package func write(to writer: inout JSONWriter) {
        writer.beginObject()
        let names = Self.names
        for slot in names.indices {
            writer.plainKey(names[slot])
            writer.optionalString(self[slot: slot])
        }
        if !extra.isEmpty {
            writer.key("extra")
            extra.writeObject(to: &writer)
        }
        writer.endObject()
    }
}

extension FormArray {
    /// Writes the array as a JSON object even when its keys form a list.
    func writeObject(to writer: inout JSONWriter) {
        writer.beginObject()
        for (key, value) in entries {
            writer.key(key.description)
            value.write(to: &writer)
        }
        writer.endObject()
    }
}
