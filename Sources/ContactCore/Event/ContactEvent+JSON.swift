extension ContactEvent {
    /// Writes the event's JSON form: the platform's key names, every list section present
    /// (`[]` when absent), `extra`, then the listener's own `meta`.
    package func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.plainKey("transactionid")
        writer.optionalString(transactionID)
        for section in EventSection.all {
            writer.plainKey(section.name)
            section.write(self, &writer)
        }
        writer.plainKey("extra")
        extra.writeObject(to: &writer)
        writer.plainKey("meta")
        metadata.write(to: &writer)
        writer.endObject()
    }

    /// The event as one line of JSON (no trailing newline).
    public var json: String {
        var writer = JSONWriter(capacity: 2048)
        write(to: &writer)
        return writer.string
    }
}

extension EventMetadata {
    /// Writes the event's `meta` object.
    package func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.plainKey("received_at")
        writer.string(receivedAt)
        writer.plainKey("remote_addr")
        writer.optionalString(remoteAddress)
        writer.plainKey("request_id")
        writer.string(requestID)
        writer.plainKey("method")
        writer.string(method)
        writer.plainKey("mode")
        writer.string(mode.rawValue)
        writer.endObject()
    }
}
