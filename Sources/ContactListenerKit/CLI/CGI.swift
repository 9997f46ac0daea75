import ArgumentParser

extension ContactListener {
    /// `contact-listener cgi`: serve one CGI request (what a bare start by a web server does).
    public struct CGI: ParsableCommand {
        /// Help for `cgi`.
        public static let configuration = CommandConfiguration(
            abstract: "Serve one CGI request from the environment and stdin, then exit.",
            discussion: """
                A web server running this binary as a CGI script needs no arguments: the CGI \
                environment is detected by itself. This subcommand forces CGI mode, for wrappers \
                and tests. Shared hosting: see deploy/shared-hosting/.
                """)

        @Option(name: .long, help: ArgumentHelp("The configuration file.", valueName: "file"))
        var config: String?

        /// Creates the command (ArgumentParser needs it).
        public init() {}

        /// Runs `cgi`.
        public func run() throws {
            let status = Self.run(configPath: config, environment: ProcessEnvironment.current)
            if status != 0 { throw ExitCode(status) }
        }

        /// Serves the request; a broken configuration still gets a JSON 503, never a bare 500.
        static func run(configPath: String?, environment: [String: String]) -> Int32 {
            SignalWaiter.ignoreWriteFailureSignals()
            let service: ListenerService
            do {
                service = try Runtime.makeService(configPath: configPath, environment: environment, statusPage: false)
            } catch {
                Runtime.complain("\(error)")
                CGIGateway.discardUnreadBody(environment: environment, alreadyRead: 0)
                CGIGateway.send(.error(503, "the listener is misconfigured; its administrator must check the web server's error log"))
                return 0
            }
            CGIGateway.serve(pipeline: service.pipeline, environment: environment)
            // No process stays in CGI mode: deliver (this event and whatever else is due)
            // after the answer went out, within a bounded time. `contact-listener drain`
            // from cron picks up the rest.
            if let spool = service.pipeline.configuration.spool {
                service.drain(milliseconds: spool.cgiDeliveryBudget)
            }
            service.shutdown()
            return 0
        }
    }
}
