/// The MariaDB error codes after which a connection is unusable and must be made anew
/// (mariadb.com/kb/en/mariadb-error-codes; the client's own codes are CR_*, 2000–2999).
enum MariaDBErrorCode {
    /// Client errors, 2000–2999: the server went away, the connection was lost or timed out.
    static let client: Range<UInt32> = 2000..<3000
    /// ER_SERVER_SHUTDOWN: the server is shutting down.
    static let serverShutdown: UInt32 = 1053
    /// ER_CONNECTION_KILLED: the server killed this connection.
    static let connectionKilled: UInt32 = 1927
    /// ER_CLIENT_INTERACTION_TIMEOUT: closed for inactivity.
    static let interactionTimeout: UInt32 = 4031

    /// True when `code` leaves the connection unusable.
    static func connectionIsGone(_ code: UInt32) -> Bool {
        client.contains(code) || [serverShutdown, connectionKilled, interactionTimeout].contains(code)
    }
}
