/// The fan-out over the configured handlers: an event is acknowledged only when every
/// handler has taken it.
import ContactListenerKit
package final class HandlerSet: Sendable {
    /// The handlers, in configuration order.
    package let handlers: [any ContactHandler]
    /// True when one of them reads the typed event (asked once: it is a property of each).
    package let needsEvent: Bool

    /// Wraps `handlers`.
    package init(_ handlers: [any ContactHandler]) {
        self.handlers = handlers
        self.needsEvent = handlers.contains { $0.needsEvent }
    }

    /// Hands `delivery` to every handler in turn; the first failure is thrown.
    package func handle(_ delivery: Delivery) throws(HandlerError) {
        for handler in handlers {
            do {
                try handler.handle(delivery)
            } catch let error as HandlerError {
                throw error
            } catch {
                throw HandlerError(handler: handler.name, reason: "\(error)")
            }
        }
    }

    /// Closes every handler.
    package func close() {
        for handler in handlers { handler.close() }
    }
}
