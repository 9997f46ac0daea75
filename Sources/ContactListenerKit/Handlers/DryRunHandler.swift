/// What a factory returns during `check-config`: the options were checked, nothing was
/// opened. It refuses events, so it can never be mistaken for a working handler.
package final class DryRunHandler: ContactHandler {
    /// The configured name.
    package let name: String

    /// A stand-in for the handler called `name`.
    package init(name: String) {
        self.name = name
    }

    /// Always fails: a dry-run handler stores nothing.
    package func handle(_ delivery: Delivery) throws {
        throw HandlerError.permanent(handler: name, reason: "check-config dry run: nothing is stored")
    }
}
