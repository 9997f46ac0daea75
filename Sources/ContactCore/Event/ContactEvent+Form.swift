extension ContactEvent {
    /// Maps a decoded tree to an event through the request path's own mapping
    /// (`EventEncoder`), read back as a handler reads it: for the tests, the fuzzers and
    /// `decode`, which hold a `FormArray` rather than an arena.
    package init(form: FormArray, metadata: EventMetadata) throws {
        let encoded = try EventEncoder.encode(FormArena(tree: form), metadata: metadata)
        self = try ContactEvent(storedJSON: encoded.json)
    }

    /// Structured mode when any section key is present in a non-GET request, else shortcode mode.
    package static func mode(of form: FormArray, method: String) -> EventMode {
        EventEncoder.mode(of: FormArena(tree: form), method: method)
    }
}
