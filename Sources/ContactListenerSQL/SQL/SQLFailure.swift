/// A database handler's failure, described for the log and the spool's `last_error`:
/// the server's message and code, never the statement's values (they are contact data).
import ContactListenerKit
struct SQLFailure: Error, CustomStringConvertible {
    /// What went wrong.
    let description: String

    /// Creates a failure.
    init(_ description: String) { self.description = description }
}
