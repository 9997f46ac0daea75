/// `type: postgres`: the normalized schema in PostgreSQL, through postgres-nio.
import ContactListenerKit
package enum PostgresHandlerFactory: ContactHandlerFactory {
    /// The `type:` value.
    package static let type = "postgres"
    /// The line `contact-listener handlers` prints.
    package static let summary = "store events in PostgreSQL: normalized contacts, fields with history, activity and raw events (schema migrated on connect)"
    /// The keys this type takes, with their help.
    package static let options = SQLServerOptions.keys(scheme: "postgres", defaultPort: 5432)

    /// Builds the handler, naming the bad key on error.
    package static func make(_ configuration: HandlerConfiguration) throws(ConfigurationError) -> any ContactHandler {
        try checkKeys(configuration)
        let options = try SQLServerOptions(configuration, schemes: ["postgres", "postgresql"], defaultPort: 5432)
        // No connection yet: a server that is down must not keep the listener from starting.
        return SQLServerHandler(name: configuration.name, dialect: .postgres, target: "postgres \(options.url.redacted)") {
            try PostgresSession.connect(options)
        }
    }
}
