/// Makes handlers of one `type:` from their configuration. Register your own with
/// `ContactListener.main(handlers: [MyFactory.self])`.
public protocol ContactHandlerFactory: Sendable {
    /// The `type:` value in the config (`jsonl`).
    static var type: String { get }
    /// One line for `contact-listener handlers`.
    static var summary: String { get }
    /// The options this type takes, with one line each (besides `type`, `name`, `map` and
    /// `rate`, which every handler takes).
    static var options: [(name: String, help: String)] { get }
    /// Builds a handler; throws a `ConfigurationError` naming the bad key.
    static func make(_ configuration: HandlerConfiguration) throws(ConfigurationError) -> any ContactHandler
}

extension ContactHandlerFactory {
    /// Fails when the handler's mapping has keys this type doesn't take.
    public static func checkKeys(_ configuration: HandlerConfiguration) throws(ConfigurationError) {
        try configuration.options.requireMapping(allowed: ["type", "name", "map", "rate"] + options.map(\.name))
    }
}
