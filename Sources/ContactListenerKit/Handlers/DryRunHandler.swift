/// What a factory returns during `check-config`: the options were checked, nothing was
/// opened. It refuses events, so it can never be mistaken for a working handler.
public final class DryRunHandler: ContactHandler {
    /// The configured name.
    public let name: String

    /// A stand-in for the handler called `name`.
    public init(name: String) {
        self.name = name
    }

    /// Always fails: a dry-run handler stores nothing.
    public func handle(_ delivery: Delivery) throws {
        throw HandlerError(handler: name, reason: "check-config dry run: nothing is stored", permanent: true)
    }
}
