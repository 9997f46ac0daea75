/// Where the pipeline puts an accepted event before it answers 200: straight into the
/// handlers, or into the durable spool that delivers to them afterwards.
import ContactListenerKit
package protocol EventSink: Sendable {
    /// Takes `delivery` durably, or throws (the answer is then 503). `dedupKey` is only
    /// evaluated by a sink that deduplicates (hashing it costs every request otherwise).
    func accept(_ delivery: Delivery, dedupKey: @autoclosure () -> String?) throws -> Acceptance
    /// True when a delivery must carry the typed event (a handler reads it before the
    /// answer); otherwise it carries the JSON, the transaction id and the request id.
    var needsEvent: Bool { get }
}

/// What accepting an event did.
package enum Acceptance: Sendable, Equatable {
    /// The event is stored.
    case stored
    /// The same transaction was already stored; nothing new was stored.
    case duplicate
}

/// Without a spool: every handler takes the event before the answer (`spool:` not configured).
package struct DirectSink: EventSink {
    /// The handlers.
    package let handlers: HandlerSet

    /// Hands events straight to `handlers`.
    package init(handlers: HandlerSet) {
        self.handlers = handlers
    }

    /// True when one of the handlers reads the typed event.
    package var needsEvent: Bool { handlers.needsEvent }

    /// Runs every handler; the first failure throws.
    package func accept(_ delivery: Delivery, dedupKey: @autoclosure () -> String?) throws -> Acceptance {
        try handlers.handle(delivery)
        return .stored
    }
}

/// With a spool: the event is committed to the spool (group commit), then delivered by the
/// dispatcher. Duplicates within the window are recognised here.
package struct SpoolSink: EventSink {
    /// The group-commit writer.
    package let writer: SpoolWriter
    /// Called after each stored event, to wake the dispatcher.
    package let stored: @Sendable () -> Void

    /// Stores through `writer` and calls `stored` after each new event.
    package init(writer: SpoolWriter, stored: @escaping @Sendable () -> Void) {
        self.writer = writer
        self.stored = stored
    }

    /// The spool keeps the JSON; the dispatcher reads the event back for its handlers.
    package var needsEvent: Bool { false }

    /// Commits the event to the spool.
    package func accept(_ delivery: Delivery, dedupKey: @autoclosure () -> String?) throws -> Acceptance {
        let item = Spool.Item(
            dedupKey: dedupKey(), transactionID: delivery.event.transactionID,
            requestID: delivery.event.metadata.requestID, json: delivery.json,
            contactKey: Spool.contactKey(id: delivery.event.contact.id, email: delivery.event.contact.email),
            email: Spool.searchEmail(delivery.event.contact.email))
        do {
            switch try writer.store(item) {
            case .stored:
                stored()
                return .stored
            case .duplicate:
                return .duplicate
            }
        } catch {
            throw HandlerError(handler: "spool", reason: "\(error)")
        }
    }
}
