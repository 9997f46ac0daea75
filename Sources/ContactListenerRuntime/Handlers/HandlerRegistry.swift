import ContactListenerKit
import ContactListenerSQL
import ContactListenerHTTP
import Synchronization

/// The handler types this binary knows: the built-in ones plus any a custom build adds.
package enum HandlerRegistry {
    private static let extra = Mutex<[any ContactHandlerFactory.Type]>([])

    /// The built-in handler types.
    package static let builtIn: [any ContactHandlerFactory.Type] = [
        JSONLinesHandler.Factory.self, SQLiteHandler.Factory.self, PostgresHandlerFactory.self, MySQLHandlerFactory.self,
        HTTPForwardHandler.Factory.self, ExecHandler.Factory.self,
    ]

    /// Every known handler type; a custom type with a built-in's name replaces it.
    package static var all: [any ContactHandlerFactory.Type] {
        let custom = extra.withLock { $0 }
        let customTypes = Set(custom.map { $0.type })
        return builtIn.filter { !customTypes.contains($0.type) } + custom
    }

    /// Adds handler types (`ContactListener.main(handlers:)` calls this).
    package static func register(_ factories: [any ContactHandlerFactory.Type]) {
        extra.withLock { $0.append(contentsOf: factories) }
    }

    /// Builds the configured handlers, failing on an unknown type or bad option.
    /// With `dryRun`, options and paths are checked but nothing is created, opened or connected.
    package static func makeHandlers(_ configurations: [HandlerConfiguration], dryRun: Bool = false) throws(ConfigurationError) -> [any ContactHandler] {
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
