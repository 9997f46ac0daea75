/// `type: mysql`: the normalized schema in MariaDB or MySQL, through libmariadb.
public enum MySQLHandlerFactory: ContactHandlerFactory {
    public static let type = "mysql"
    public static let summary = "store events in MariaDB/MySQL: normalized contacts, fields with history, activity and raw events (utf8mb4; schema migrated on connect)"
    public static let options = SQLServerOptions.keys(scheme: "mysql", defaultPort: 3306)

    public static func make(_ configuration: HandlerConfiguration) throws(ConfigurationError) -> any ContactHandler {
        try checkKeys(configuration)
        let options = try SQLServerOptions(configuration, schemes: ["mysql", "mariadb"], defaultPort: 3306)
        // No connection yet: a server that is down must not keep the listener from starting.
        return SQLServerHandler(name: configuration.name, dialect: .mysql, target: "mysql \(options.url.redacted)") {
            try MariaDBConnection.connect(options)
        }
    }
}
