/// An event on its way to a handler: the typed event and its JSON line, rendered once.
public struct Delivery: Sendable {
    /// The event.
    public let event: ContactEvent
    /// `event.json` as UTF-8 bytes, without a trailing newline.
    public let json: [UInt8]

    /// Wraps `event`, rendering its JSON once for every handler.
    public init(event: ContactEvent) {
        self.event = event
        var writer = JSONWriter(capacity: 2048)
        event.write(to: &writer)
        self.json = writer.bytes
    }
}

/// A destination for contact events: a file, a database, a CRM, a script.
///
/// `handle` returns only once the event is durably taken (written and synced, committed,
/// answered 2xx); a thrown error makes the listener answer 503, so nothing is acknowledged
/// that was not stored. It is called from several threads at once.
public protocol ContactHandler: AnyObject, Sendable {
    /// The handler's unique name from the configuration.
    var name: String { get }
    /// Takes one event durably, or throws.
    func handle(_ delivery: Delivery) throws
    /// Releases files and connections; called once at shutdown.
    func close()
}

extension ContactHandler {
    /// Nothing to release by default.
    public func close() {}
}

/// A handler's failure to take an event, naming the handler.
public struct HandlerError: Error, Sendable, CustomStringConvertible {
    /// The handler's name.
    public var handler: String
    /// What went wrong.
    public var reason: String

    /// Creates an error.
    public init(handler: String, reason: String) {
        self.handler = handler
        self.reason = reason
    }

    /// `handler 'jsonl': write /x: No space left on device`.
    public var description: String { "handler '\(handler)': \(reason)" }
}
