/// Where one event stands with one handler.
import ContactListenerKit
package enum DeliveryState: String, Sendable, CaseIterable {
    /// Not yet attempted, or claimed by a dispatcher right now.
    case pending
    /// Stored by the handler.
    case delivered
    /// Failed at least once; retried on the schedule.
    case failed
    /// Failed on every scheduled attempt (or permanently): a dead letter, kept for `spool retry`.
    case dead
}
