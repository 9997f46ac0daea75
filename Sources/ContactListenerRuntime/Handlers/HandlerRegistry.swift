import ContactListenerKit
import ContactListenerSQL
import ContactListenerHTTP

/// The handler types this binary knows: the built-in ones plus any a custom build adds
/// (`ContactListener.main(handlers:)` makes one and hands it to every service it builds).
package struct HandlerRegistry: Sendable {
    /// The types a custom build adds.
    private let custom: [any ContactHandlerFactory.Type]

    /// The built-in types and `custom`.
    package init(adding custom: [any ContactHandlerFactory.Type] = []) {
        self.custom = custom
    }

    /// The built-in handler types.
    package static let builtIn: [any ContactHandlerFactory.Type] = [
        JSONLinesHandler.Factory.self, SQLiteHandler.Factory.self, PostgresHandlerFactory.self, MySQLHandlerFactory.self,
        HTTPForwardHandler.Factory.self, ExecHandler.Factory.self,
    ]

    /// Every known handler type; a custom type with a built-in's name replaces it.
    package var all: [any ContactHandlerFactory.Type] {
        let customTypes = Set(custom.map { $0.type })
        return Self.builtIn.filter { !customTypes.contains($0.type) } + custom
    }

    /// Builds the configured handlers, failing on an unknown type or bad option.
    /// With `dryRun`, options and paths are checked but nothing is created, opened or connected.
    package func makeHandlers(_ configurations: [HandlerConfiguration], dryRun: Bool = false) throws(ConfigurationError) -> [any ContactHandler] {
        let factories = all
        var handlers: [any ContactHandler] = []
        for var configuration in configurations {
            configuration.dryRun = dryRun
            guard let factory = factories.first(where: { $0.type == configuration.type }) else {
                handlers.forEach { $0.close() }
                throw configuration.options.error(
                    "unknown handler type '\(configuration.type)'; known types: \(factories.map { $0.type }.joined(separator: ", "))")
            }
            do {
                let mapping = try configuration.options["map"].map { node throws(ConfigurationError) in try FieldMapping(node: node) }
                let handler = try factory.make(configuration)
                if let mapping, !mapping.isEmpty {
                    handlers.append(MappedHandler(handler, mapping: mapping))
                } else {
                    handlers.append(handler)
                }
            } catch {
                handlers.forEach { $0.close() }
                throw error
            }
        }
        return handlers
    }
}
