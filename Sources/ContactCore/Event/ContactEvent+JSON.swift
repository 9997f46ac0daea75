extension ContactEvent {
    /// Writes the event's JSON form: the platform's key names, every list section present
    /// (`[]` when absent), `extra`, then the listener's own `meta`.
    package func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.plainKey("transactionid")
        writer.optionalString(transactionID)
        writer.plainKey("contact")
        contact.write(to: &writer)
        Self.write("fields", fields, to: &writer)
        Self.write("campaigns-opened", campaignsOpened, to: &writer)
        Self.write("links-clicked", linksClicked, to: &writer)
        Self.write("pages-visited", pagesVisited, to: &writer)
        Self.write("automation-triggered", automationTriggered, to: &writer)
        Self.write("goals-reached", goalsReached, to: &writer)
        Self.write("webhooks-triggered", webhooksTriggered, to: &writer)
        Self.write("lead-score", leadScore, to: &writer)
        Self.write("lead-status", leadStatus, to: &writer)
        writer.plainKey("extra")
        extra.writeObject(to: &writer)
        writer.plainKey("meta")
        writer.beginObject()
        writer.plainKey("received_at")
        writer.string(metadata.receivedAt)
        writer.plainKey("remote_addr")
        writer.optionalString(metadata.remoteAddress)
        writer.plainKey("request_id")
        writer.string(metadata.requestID)
        writer.plainKey("method")
        writer.string(metadata.method)
        writer.plainKey("mode")
        writer.string(metadata.mode.rawValue)
        writer.endObject()
        writer.endObject()
    }

    /// The event as one line of JSON (no trailing newline).
    public var json: String {
        var writer = JSONWriter(capacity: 2048)
        write(to: &writer)
        return writer.string
    }

    private static func write<Record: SectionRecord>(_ name: String, _ records: [Record], to writer: inout JSONWriter) {
        writer.plainKey(name)
        writer.beginArray()
        for record in records { record.write(to: &writer) }
        writer.endArray()
    }
}
