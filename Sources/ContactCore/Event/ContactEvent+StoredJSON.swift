extension ContactEvent {
    /// Reads back an event from its own JSON form (`ContactEvent.json`), as the spool and
    /// the JSON lines file keep it.
    package init(storedJSON bytes: [UInt8]) throws(FormError) {
        self = try bytes.withUnsafeBufferPointer { (buffer) throws(FormError) -> ContactEvent in
            var reader = StoredEventReader(buffer)
            var event = ContactEvent(metadata: EventMetadata(receivedAt: "", remoteAddress: nil, requestID: "", method: "POST", mode: .structured))
            try reader.object { (reader, key) throws(FormError) in
                switch key {
                case "transactionid": event.transactionID = try reader.optionalString()
                case "extra": event.extra = try reader.formArray(depth: 1, path: key)
                case "meta": try reader.object { (reader, key) throws(FormError) in try event.metadata.read(key, from: &reader) }
                default:
                    guard let section = EventSection.named(key) else { throw reader.unexpected(key) }
                    try section.read(&event, &reader)
                }
            }
            try reader.end()
            return event
        }
    }
}

extension EventMetadata {
    /// Reads the `meta` member `key`.
    fileprivate mutating func read(_ key: String, from reader: inout StoredEventReader) throws(FormError) {
        switch key {
        case "received_at": receivedAt = try reader.string()
        case "remote_addr": remoteAddress = try reader.optionalString()
        case "request_id": requestID = try reader.string()
        case "method": method = try reader.string()
        case "mode":
            let text = try reader.string()
            guard let mode = EventMode(rawValue: text) else { throw reader.unexpected("mode: \(text)") }
            self.mode = mode
        default: throw reader.unexpected(key)
        }
    }
}
