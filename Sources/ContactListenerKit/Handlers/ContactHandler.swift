/// An event on its way to a handler: the typed event and its JSON line, rendered once.
public struct Delivery: Sendable {
    /// The event.
    public let event: ContactEvent
    /// `event.json` as UTF-8 bytes, without a trailing newline.
    public let json: [UInt8]
    /// True when an earlier attempt may have stored this event before a crash cut it short:
    /// an idempotent handler checks before storing it again.
    public var inDoubt = false
    /// The spool's lease on this delivery (nil outside the spool), for `checkLease`.
    package var lease: (any DeliveryLease)?

    /// Wraps `event`, rendering its JSON once for every handler.
    public init(event: ContactEvent) {
        self.event = event
        var writer = JSONWriter(capacity: 2048)
        event.write(to: &writer)
        self.json = writer.bytes
    }

    /// Wraps an event whose JSON was already rendered (read back from the spool).
    public init(event: ContactEvent, json: [UInt8], inDoubt: Bool = false) {
        self.event = event
        self.json = json
        self.inDoubt = inDoubt
    }

    /// An event the request path wrote straight to JSON, for sinks and handlers that read
    /// only `json` (`needsEvent` false): its `event` carries the request and transaction ids
    /// and the contact's id and email (the spool orders a contact's deliveries by them).
    package init(encodedJSON json: [UInt8], requestID: String, transactionID: String?, contactID: String? = nil, contactEmail: String? = nil) {
        var event = ContactEvent(metadata: EventMetadata(receivedAt: "", remoteAddress: nil, requestID: requestID, method: "", mode: .structured))
        event.transactionID = transactionID
        event.contact.id = contactID
        event.contact.email = contactEmail
        self.event = event
        self.json = json
    }

    /// A stored event for a handler that reads only `json` (`needsEvent` false): its
    /// `event` carries the metadata's request id and nothing else, so the spool need not
    /// decode the JSON back, the larger part of a delivery's cost.
    public init(storedJSON json: [UInt8], requestID: String, inDoubt: Bool) {
        self.init(encodedJSON: json, requestID: requestID, transactionID: nil)
        self.inDoubt = inDoubt
    }

    /// Throws when the spool's lease on this delivery is lost: this process stalled past it
    /// (stopped, swapped out) and another process took the delivery over, so this one must
    /// not deliver it. The default `handle(batch:)` calls it before each delivery; an
    /// override that takes deliveries one at a time (a call each, not one write for all)
    /// should too, and return the error for that delivery and the rest. Never throws
    /// outside the spool.
    public func checkLease() throws {
        try lease?.check()
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
    /// Takes several events (the spool's dispatcher delivers in batches); one result per
    /// delivery, in order. The default calls `checkLease` and `handle` for each; a handler
    /// can share one fsync or one transaction across the batch.
    func handle(batch: [Delivery]) -> [Result<Void, any Error>]
    /// Releases files and connections; called once at shutdown.
    func close()
    /// False when the handler reads only a delivery's `json`, `inDoubt` and
    /// `event.metadata.requestID`: the spool and the request path then hand it events
    /// without reading the typed event back from the JSON.
    var needsEvent: Bool { get }
}

extension ContactHandler {
    /// Nothing to release by default.
    public func close() {}

    /// Handlers read the typed event by default.
    public var needsEvent: Bool { true }

    /// One `handle` call per delivery, each while the spool's lease on it still holds.
    public func handle(batch: [Delivery]) -> [Result<Void, any Error>] {
        batch.map { delivery in
            Result {
                try delivery.checkLease()
                try handle(delivery)
            }
        }
    }
}

/// A handler's answer for a delivery of a batch it did not try, because the backend asked
/// it to wait (a 429 for an earlier one): the spool gives the delivery back for a later
/// claim without counting an attempt, so waiting never makes a dead letter.
public struct NotAttempted: Error, Sendable, CustomStringConvertible {
    /// The handler's name.
    public var handler: String
    /// Why it was not tried.
    public var reason: String

    /// A delivery `handler` did not try, for `reason`.
    public init(handler: String, reason: String) {
        self.handler = handler
        self.reason = reason
    }

    /// `handler 'crm' did not try: …`.
    public var description: String { "handler '\(handler)' did not try: \(reason)" }
}

/// A handler's failure to take an event, naming the handler, and whether trying again can help.
public struct HandlerError: Error, Sendable, CustomStringConvertible {
    /// Whether the delivery is worth another attempt.
    public enum Kind: Sendable, Equatable {
        /// Worth retrying on the schedule (a database down, a CRM's 503 or 429); the backend
        /// may ask to wait longer (`Retry-After`, in milliseconds).
        case transient(retryAfter: Int64?)
        /// Retrying can't help (a CRM answering 400): a dead letter at once, for the operator.
        case permanent
    }

    /// The handler's name.
    public var handler: String
    /// What went wrong.
    public var reason: String
    /// Whether to try again.
    public var kind: Kind

    /// A failure of `handler`; transient unless `kind` says otherwise.
    public init(handler: String, reason: String, kind: Kind = .transient(retryAfter: nil)) {
        self.handler = handler
        self.reason = reason
        self.kind = kind
    }

    /// A failure that retrying can't mend.
    public static func permanent(handler: String, reason: String) -> HandlerError {
        HandlerError(handler: handler, reason: reason, kind: .permanent)
    }

    /// True when the delivery becomes a dead letter at once.
    public var isPermanent: Bool { kind == .permanent }

    /// How long the backend asked to wait before the next attempt, in milliseconds.
    public var retryAfter: Int64? {
        if case .transient(let delay) = kind { return delay }
        return nil
    }

    /// `handler 'jsonl': write /x: No space left on device`.
    public var description: String { "handler '\(handler)': \(reason)" }
}
