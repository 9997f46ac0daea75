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
        // The stored form nests two levels deeper than what was sent (sections, `extra`).
        limits.maxDepth = FormLimits.depthCeiling
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
