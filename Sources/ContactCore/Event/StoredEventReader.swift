/// Reads the listener's own event JSON (`ContactEvent.write`) straight into the event's
/// types: each member is read where the writer wrote it, so no form mapping runs and
/// nothing needs fixing up afterwards. `null` is a key that was not sent.
///
/// The JSON grammar is `JSONFormParser`'s, the decoder of JSON request bodies, so both read
/// strings, escapes and nesting alike; the extras (keys the model doesn't know) are read
/// as the form tree they were written from.
struct StoredEventReader {
    /// How deep the stored form may nest, as `FormLimits.maxDepth` counts it: two levels
    /// more than a request may (a record keeps the keys it doesn't know under its own
    /// `"extra"` member, and a single `lead-status` object is stored as a list of one), so an
    /// event accepted at the deepest `max_depth` a configuration can set reads back. Still a
    /// bound: the reader recurses once per level (see `FormLimits.depthCeiling`).
    static let depthLimit = FormLimits.depthCeiling + 2

    private var parser: JSONFormParser

    /// A reader at the start of `input`. None of a request's limits apply but the depth:
    /// the event was accepted once, and the configured limits may be lower by now.
    init(_ input: UnsafeBufferPointer<UInt8>) {
        var limits = FormLimits.default
        limits.maxBodyBytes = Int.max
        limits.maxVars = Int.max
        limits.maxValueBytes = Int.max
        limits.maxKeyBytes = Int.max
        parser = JSONFormParser(input: input, limits: limits, maxDepth: Self.depthLimit)
    }

    /// Reads an object, calling `member` with each key; `member` reads the value.
    mutating func object(_ member: (inout StoredEventReader, String) throws(FormError) -> Void) throws(FormError) {
        try parser.expect(UInt8(ascii: "{"))
        if try closes(UInt8(ascii: "}")) { return }
        repeat {
            parser.skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else { throw parser.failure("expected a string key") }
            let key = try parser.parseString()
            try parser.expect(UInt8(ascii: ":"))
            try member(&self, key)
        } while try !closes(UInt8(ascii: "}"), orComma: true)
    }

    /// Reads a list, calling `element` for each item; `element` reads it.
    mutating func list(_ element: (inout StoredEventReader) throws(FormError) -> Void) throws(FormError) {
        try parser.expect(UInt8(ascii: "["))
        if try closes(UInt8(ascii: "]")) { return }
        repeat {
            try element(&self)
        } while try !closes(UInt8(ascii: "]"), orComma: true)
    }

    /// A string, or nil for `null`.
    mutating func optionalString() throws(FormError) -> String? {
        parser.skipWhitespace()
        switch peek() {
        case UInt8(ascii: "\""): return try parser.parseString()
        case UInt8(ascii: "n"): try parser.literal("null"); return nil
        default: throw parser.failure("expected a string or null")
        }
    }

    /// A string.
    mutating func string() throws(FormError) -> String {
        guard let text = try optionalString() else { throw parser.failure("expected a string") }
        return text
    }

    /// An object or list read as the form tree it was written from; `depth` is the level of
    /// the container that holds it.
    mutating func formArray(depth: Int, path: String) throws(FormError) -> FormArray {
        parser.skipWhitespace()
        guard peek() == UInt8(ascii: "{") || peek() == UInt8(ascii: "[") else { throw parser.failure("expected an object for '\(path)'") }
        guard case .array(let array) = try parser.parseValue(depth: depth, path: path) else { throw parser.failure("expected an object") }
        return array
    }

    /// A record written by `SectionRecord.write`: its known keys, then its `extra`; `depth`
    /// is the record object's level.
    mutating func record<Record: SectionRecord>(depth: Int) throws(FormError) -> Record {
        var record = Record()
        try object { (reader, key) throws(FormError) in
            if let slot = Record.slot(of: key) {
                record[slot: slot] = try reader.optionalString()
            } else if key == "extra" {
                record.extra = try reader.formArray(depth: depth, path: key)
            } else {
                throw reader.unexpected(key)
            }
        }
        return record
    }

    /// The error for a key the writer never writes there.
    func unexpected(_ key: String) -> FormError {
        parser.failure("unexpected key '\(key)' in a stored event")
    }

    /// Checks that nothing but whitespace follows the event.
    mutating func end() throws(FormError) {
        parser.skipWhitespace()
        guard parser.position == parser.input.count else { throw parser.failure("unexpected data after the event") }
    }

    private func peek() -> UInt8? {
        parser.position < parser.input.count ? parser.input[parser.position] : nil
    }

    /// Consumes `close` (true) or, with `orComma`, a comma (false); anything else is an error
    /// with `orComma`, and nothing is consumed without it.
    private mutating func closes(_ close: UInt8, orComma: Bool = false) throws(FormError) -> Bool {
        parser.skipWhitespace()
        if peek() == close { parser.position += 1; return true }
        guard orComma else { return false }
        guard peek() == UInt8(ascii: ",") else { throw parser.failure("expected ',' or '\(Character(Unicode.Scalar(close)))'") }
        parser.position += 1
        return false
    }
}
