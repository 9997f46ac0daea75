/// The fan-out over the configured handlers: an event is acknowledged only when every
/// handler has taken it.
import ContactListenerKit
public final class HandlerSet: Sendable {
    /// The handlers, in configuration order.
    public let handlers: [any ContactHandler]

    /// Wraps `handlers`.
    public init(_ handlers: [any ContactHandler]) {
        self.handlers = handlers
    }

    /// Hands `delivery` to every handler in turn; the first failure is thrown.
    public func handle(_ delivery: Delivery) throws(HandlerError) {
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
    public func close() {
        for handler in handlers { handler.close() }
    }
}
