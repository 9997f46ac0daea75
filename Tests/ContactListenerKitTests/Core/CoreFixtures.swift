import Foundation
import Logging
import Synchronization
@testable import ContactListenerKit
@testable import ContactListenerRuntime
@testable import ListenerSupport

// The in-process stand-ins the core tests share (in the spirit of swift-nio's
// EmbeddedChannel): a sink and a handler that record what reaches them, a configuration
// from YAML text, requests as a web server would pass them, and a private folder.

/// A sink that keeps every accepted delivery; a key it has seen is a duplicate.
final class RecordingSink: EventSink, @unchecked Sendable {
    private let lock = NSLock()
    private var keys: Set<String> = []
    private(set) var deliveries: [Delivery] = []
    /// Whether deliveries must carry the typed event (the tests read it).
    let needsEvent = true

    func accept(_ delivery: Delivery, dedupKey: @autoclosure () -> String?) throws -> Acceptance {
        let key = dedupKey()
        return lock.withLock {
            if let key, !keys.insert(key).inserted { return .duplicate }
            deliveries.append(delivery)
            return .stored
        }
    }

    /// What was accepted so far.
    var stored: [Delivery] { lock.withLock { deliveries } }
}

/// A handler that records each delivery's transaction id, failing while `failures` lasts.
final class RecordingHandler: ContactHandler, @unchecked Sendable {
    let name: String
    private let lock = NSLock()
    private var failuresLeft: Int
    private let permanent: Bool
    private(set) var seen: [String] = []

    init(name: String = "recording", failures: Int = 0, permanent: Bool = false) {
        self.name = name
        self.failuresLeft = failures
        self.permanent = permanent
    }

    func handle(_ delivery: Delivery) throws {
        try lock.withLock {
            seen.append(delivery.event.transactionID ?? "-")
            if failuresLeft > 0 {
                failuresLeft -= 1
                throw HandlerError(handler: name, reason: "backend down", kind: permanent ? .permanent : .transient(retryAfter: nil))
            }
        }
    }

    /// The transaction ids handed over so far, attempts included.
    var attempts: [String] { lock.withLock { seen } }
}

enum CoreFixture {
    /// A configuration parsed from `yaml` (its folder: `directory`).
    static func configuration(_ yaml: String, directory: String = ".") throws -> ListenerConfiguration {
        try ListenerConfiguration.parse(yaml, file: "\(directory)/test.yaml", baseDirectory: directory, environment: [:])
    }

    /// A request from `remote` (loopback by default) as nginx would pass it.
    static func request(
        method: String = "POST", query: String = "", contentType: String? = "application/x-www-form-urlencoded",
        body: String = "", remote: String = "127.0.0.1", path: String = "/hook", headers: [String: String] = [:]
    ) -> Request {
        var params = ["REQUEST_METHOD": method, "QUERY_STRING": query, "REMOTE_ADDR": remote, "REQUEST_URI": path + (query.isEmpty ? "" : "?" + query)]
        if let contentType { params["CONTENT_TYPE"] = contentType }
        params["CONTENT_LENGTH"] = String(body.utf8.count)
        for (name, value) in headers { params["HTTP_" + name.uppercased().replacingOccurrences(of: "-", with: "_")] = value }
        return Request(params: params, body: Array(body.utf8))
    }

    /// A fresh folder under the temporary directory.
    static func folder(_ tag: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(tag)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The answer's JSON object.
    static func json(_ response: Response) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
    }

    /// A logger that writes nothing.
    static let quietLogger: Logger = {
        var logger = Logger(label: "core-tests", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical
        return logger
    }()
}
