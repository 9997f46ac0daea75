import ContactListenerKit
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `type: csv`: appends `transactionid,email,phone,<one column per configured field>` rows.
///
/// A handler is a class with a `name` and a `handle(_:)` that returns only once the event is
/// stored (throw to have the spool retry it later). Its `Factory` reads its options from the
/// config; `check-config` runs it, so a bad option is reported before any request arrives.
final class CSVHandler: ContactHandler {
    let name: String
    private let path: String
    private let columns: [String]
    private let lock = Mutex(())

    init(name: String, path: String, columns: [String]) {
        self.name = name
        self.path = path
        self.columns = columns
    }

    func handle(_ delivery: Delivery) throws {
        let event = delivery.event
        let fields = columns.map { column in event.fields.last { $0.name == column || $0.id == column }?.value ?? "" }
        let cells = [event.transactionID ?? "", event.contact.email ?? "", event.contact.phone ?? ""] + fields
        let row = cells.map(Self.quote).joined(separator: ",") + "\n"
        try lock.withLock { _ in
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            guard fd >= 0 else { throw HandlerError(handler: name, reason: "can't open \(path)") }
            defer { Glibc.close(fd) }
            let written = row.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
            guard written == row.utf8.count, fsync(fd) == 0 else { throw HandlerError(handler: name, reason: "can't write \(path)") }
        }
    }

    /// RFC 4180 quoting.
    static func quote(_ cell: String) -> String {
        guard cell.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return cell }
        return "\"" + cell.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
    }

    enum Factory: ContactHandlerFactory {
        static let type = "csv"
        static let summary = "append one CSV row per event (an example of a custom handler)"
        static let options: [(name: String, help: String)] = [
            ("path", "the CSV file (required)"),
            ("columns", "custom fields to add as columns, by name or id"),
        ]

        static func make(_ configuration: HandlerConfiguration) throws(ConfigurationError) -> any ContactHandler {
            try checkKeys(configuration)
            guard let path = configuration.options["path"] else { throw configuration.options.error("a csv handler needs 'path'") }
            let columns = try configuration.options["columns"]?.stringList() ?? []
            return CSVHandler(name: configuration.name, path: configuration.resolve(path: try path.string()), columns: columns)
        }
    }
}
