/// One entry of a contact event's section (a custom field, an opened campaign, …).
///
/// Each record type lists its known keys once; decoding, JSON output and handlers all
/// go through that list, so adding a key is a one-line change.
public protocol SectionRecord: Sendable, Equatable {
    /// The known keys in the platform's order, with where each value is kept.
    static var keys: [(name: String, path: WritableKeyPath<Self, String?>)] { get }
    /// Keys the platform sent that this type doesn't know, kept rather than dropped.
    var extra: FormArray { get set }
    /// An empty record.
    init()
}

extension SectionRecord {
    /// The value of a known key by its wire name (`"profile_url"`), or nil.
    public subscript(name: String) -> String? {
        for key in Self.keys where key.name == name { return self[keyPath: key.path] }
        return nil
    }

    /// Builds a record from the decoded array found at `section[index]` (`index` is nil
    /// for a section that is one object, like `contact`); those name the key in errors.
    init(form: FormArray, section: String, index: FormKey?) throws(EventError) {
        self.init()
        let known = Self.keys
        for (key, value) in form.entries {
            let name = key.description
            if let slot = known.first(where: { $0.name == name }) {
                guard case .string(let text) = value else {
                    let path = index.map { "\(section)[\($0)]" } ?? section
                    throw .expectedString(key: "\(path)[\(name)]")
                }
                self[keyPath: slot.path] = text
            } else {
                extra[key] = value
            }
        }
    }

    /// Undoes `write(to:)`'s wrapping of unknown keys in an `"extra"` member, for a record
    /// read back from stored JSON.
    mutating func unwrapStoredExtra() {
        extra = extra["extra"]?.arrayValue ?? FormArray()
    }

    /// Writes the record as a JSON object: every known key (null when absent), then
    /// `extra` when the platform sent keys we don't know.
    public func write(to writer: inout JSONWriter) {
        writer.beginObject()
        for key in Self.keys {
            writer.key(key.name)
            writer.optionalString(self[keyPath: key.path])
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
