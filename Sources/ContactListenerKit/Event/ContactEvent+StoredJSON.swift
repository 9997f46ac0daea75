extension ContactEvent {
    /// Reads back an event from its own JSON form (`ContactEvent.json`), as the spool
    /// stores it: the sections map as in a structured POST, `extra` and `meta` are restored,
    /// and `null` means "not sent".
    public init(storedJSON bytes: [UInt8]) throws {
        var limits = FormLimits.default
        limits.maxBodyBytes = Int.max
        limits.maxVars = Int.max
        limits.maxValueBytes = Int.max
        limits.maxKeyBytes = Int.max
        let stored = try JSONFormDecoder(limits: limits, omitNulls: true).decode(bytes)
        let meta = stored["meta"]?.arrayValue ?? FormArray()
        let extra = stored["extra"]?.arrayValue ?? FormArray()
        var form = FormArray()
        for (key, value) in stored.entries where key != .string("meta") && key != .string("extra") {
            form[key] = value
        }
        let metadata = EventMetadata(
            receivedAt: meta["received_at"]?.stringValue ?? "",
            remoteAddress: meta["remote_addr"]?.stringValue,
            requestID: meta["request_id"]?.stringValue ?? "",
            method: meta["method"]?.stringValue ?? "POST",
            mode: meta["mode"]?.stringValue.flatMap(EventMode.init(rawValue:)) ?? .structured)
        // The stored form is always structured: shortcode parameters were already mapped.
        var structured = metadata
        structured.mode = .structured
        try self.init(form: form, metadata: structured)
        self.metadata = metadata
        self.extra = extra
    }
}
