import ContactListenerKit
import ListenerSupport
/// `type: exec`: runs a program for each event, without a shell. The event's JSON arrives
/// on stdin (any size), the main values in the environment; exit code 0 means stored.
///
/// This is how a PHP user keeps their existing listener code: `command: [php, handler.php]`
/// with `$event = json_decode(file_get_contents('php://stdin'), true);` (see
/// deploy/examples/exec-handler.php).
package final class ExecHandler: ContactHandler {
    /// The handler's configured name.
    package let name: String
    private let command: [String]
    private let timeout: Int64
    private let baseEnvironment: [String: String]

    /// Creates a handler; `timeout` is in milliseconds.
    package init(name: String, command: [String], timeout: Int64, environment: [String: String]) {
        self.name = name
        self.command = command
        self.timeout = timeout
        self.baseEnvironment = environment
    }

    /// Runs the command once for the event.
    package func handle(_ delivery: Delivery) throws {
        let event = delivery.event
        var environment = baseEnvironment
        environment["CONTACT_ID"] = event.contact.id ?? ""
        environment["CONTACT_EMAIL"] = event.contact.email ?? ""
        environment["CONTACT_PHONE"] = event.contact.phone ?? ""
        environment["CONTACT_PROFILE_URL"] = event.contact.profileURL ?? ""
        environment["TRANSACTION_ID"] = event.transactionID ?? ""
        environment["REQUEST_ID"] = event.metadata.requestID
        environment["RECEIVED_AT"] = event.metadata.receivedAt
        environment["EVENT_MODE"] = event.metadata.mode.rawValue
        environment["DELIVERY_IN_DOUBT"] = delivery.inDoubt ? "1" : "0"
        let outcome: ChildProcess.Outcome
        do {
            outcome = try ChildProcess.run(command, environment: environment, input: delivery.json, timeoutMilliseconds: timeout)
        } catch {
            throw HandlerError(handler: name, reason: "\(error); check the command path and its execute permission")
        }
        let errorText = outcome.standardError.trimmingCharacters(in: " \t\r\n")
        let stderr = errorText.isEmpty ? "" : "; stderr: \(errorText.suffix(1_000))"
        if outcome.timedOut {
            throw HandlerError(handler: name, reason: "\(command[0]) ran longer than \(timeout) ms and was killed\(stderr)")
        }
        if let signal = outcome.signal {
            throw HandlerError(handler: name, reason: "\(command[0]) was killed by signal \(signal)\(stderr)")
        }
        if outcome.exitStatus != 0 {
            throw HandlerError(handler: name, reason: "\(command[0]) exited with status \(outcome.exitStatus ?? -1)\(stderr)")
        }
    }

    /// `type: exec`.
    package enum Factory: ContactHandlerFactory {
        package static let type = "exec"
        package static let summary = "run a program per event: JSON on stdin, CONTACT_EMAIL etc. in the environment, exit 0 = stored"
        package static let options: [(name: String, help: String)] = [
            ("command", "the program and its arguments as a list, run without a shell (required), e.g. [php, /srv/handler.php]"),
            ("timeout", "per attempt, e.g. 30s (default); the program's process group is killed after it"),
            ("env", "extra environment variables (a mapping); PATH is passed through"),
        ]

        package static func make(_ configuration: HandlerConfiguration) throws(ConfigurationError) -> any ContactHandler {
            try checkKeys(configuration)
            let options = configuration.options
            guard let commandNode = options["command"] else { throw options.error("an exec handler needs 'command', e.g. [php, handler.php]") }
            var command = try commandNode.stringList()
            guard let program = command.first, !program.isEmpty else { throw commandNode.error("the command is empty") }
            if program.hasPrefix("./") || (program.contains("/") && !program.hasPrefix("/")) {
                command[0] = configuration.resolve(path: program)
            }
            if command[0].contains("/") && !FileSystem.isExecutable(command[0]) {
                throw commandNode.error("\(command[0]) is not an executable file; check the path and chmod +x")
            }
            let timeout = try options["timeout"]?.duration(in: 1...86_400_000) ?? 30_000
            var environment: [String: String] = ["PATH": ProcessEnvironment.current["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"]
            if let envNode = options["env"] {
                try envNode.requireMapping(allowed: envNode.keys)
                for key in envNode.keys { environment[key] = try envNode[key]?.string() ?? "" }
            }
            return ExecHandler(name: configuration.name, command: command, timeout: timeout, environment: environment)
        }
    }
}
