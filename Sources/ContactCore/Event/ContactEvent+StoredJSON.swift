extension ContactEvent {
    /// The deepest nesting of an event's stored JSON, as `FormLimits.maxDepth` counts it.
    ///
    /// The stored form nests up to two levels deeper than the request it came from: a
    /// record keeps the keys it doesn't know under its own `"extra"` member, and a single
    /// `lead-status` object is stored as a list of one. So an event accepted at the deepest
    /// `max_depth` a configuration can set reads back within two levels more. Still a bound:
    /// the reader recurses once per level (see `FormLimits.depthCeiling`).
    static let storedDepthLimit = FormLimits.depthCeiling + 2

    /// Reads the listener's own event JSON, already accepted once: none of a request's
    /// limits apply (the configured ones may be lower by now, and the stored form is
    /// deeper), only `storedDepthLimit`; `null` means "not sent".
    package static let storedJSONDecoder: JSONFormDecoder = {
        var limits = FormLimits.default
        limits.maxBodyBytes = Int.max
        limits.maxVars = Int.max
        limits.maxValueBytes = Int.max
        limits.maxKeyBytes = Int.max
        var decoder = JSONFormDecoder(limits: limits, omitNulls: true)
        decoder.depthLimit = storedDepthLimit
        return decoder
    }()

    /// Reads back an event from its own JSON form (`ContactEvent.json`), as the spool
    /// stores it: the sections map as in a structured POST, `extra` and `meta` are restored,
    /// and `null` means "not sent".
    package init(storedJSON bytes: [UInt8]) throws {
        let stored = try Self.storedJSONDecoder.decode(bytes)
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
        // A record writes the keys it doesn't know under its own "extra" member; reading
        // that back put them one level too deep. Unwrap exactly that one level.
        contact.unwrapStoredExtra()
        for index in fields.indices { fields[index].unwrapStoredExtra() }
        for index in campaignsOpened.indices { campaignsOpened[index].unwrapStoredExtra() }
        for index in linksClicked.indices { linksClicked[index].unwrapStoredExtra() }
        for index in pagesVisited.indices { pagesVisited[index].unwrapStoredExtra() }
        for index in automationTriggered.indices { automationTriggered[index].unwrapStoredExtra() }
        for index in goalsReached.indices { goalsReached[index].unwrapStoredExtra() }
        for index in webhooksTriggered.indices { webhooksTriggered[index].unwrapStoredExtra() }
        for index in leadScore.indices { leadScore[index].unwrapStoredExtra() }
        for index in leadStatus.indices { leadStatus[index].unwrapStoredExtra() }
    }
}
