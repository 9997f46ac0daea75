/// `type: mysql`: the normalized schema in MariaDB or MySQL, through libmariadb.
import ContactListenerKit
package enum MySQLHandlerFactory: ContactHandlerFactory {
    /// The `type:` value.
    package static let type = "mysql"
    /// The line `contact-listener handlers` prints.
    package static let summary = "store events in MariaDB/MySQL: normalized contacts, fields with history, activity and raw events (utf8mb4; schema migrated on connect)"
    /// The keys this type takes, with their help.
    package static let options = SQLServerOptions.keys(
        scheme: "mysql", defaultPort: 3306,
        urlNote: "; host localhost means the default unix socket, ?socket=/path names another")

    /// Builds the handler, naming the bad key on error.
    package static func make(_ configuration: HandlerConfiguration) throws(ConfigurationError) -> any ContactHandler {
        try checkKeys(configuration)
        let options = try SQLServerOptions(configuration, schemes: ["mysql", "mariadb"], defaultPort: 3306)
        // No connection yet: a server that is down must not keep the listener from starting.
        return SQLServerHandler(name: configuration.name, dialect: .mysql, target: "mysql \(options.url.redacted)") {
            try MariaDBConnection.connect(options)
        }
    }
}
