import ContactListenerKit
import ContactListenerRuntime
import ListenerSupport
#if canImport(Glibc)
import Glibc
#endif
extension ContactListener {
    /// One CGI request: what the binary does whenever a web server starts it as a CGI
    /// script. There is no `cgi` subcommand: started as CGI, the process never reads its
    /// command line (see `ContactListener.main(handlers:)` and SECURITY.md).
    enum CGI {
        /// Serves the request with the configuration found without arguments
        /// ($CONTACT_LISTENER_CONFIG, else the file beside the binary, else the defaults);
        /// a broken configuration still gets a JSON 503, never a bare 500.
        static func run(environment: [String: String]) -> Int32 {
            // Returns only when the configuration can't be loaded; otherwise exits itself.
            SignalWaiter.ignoreWriteFailureSignals()
            let service: ListenerService
            do {
                service = try Runtime.makeService(configPath: nil, environment: environment)
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
            // The process ends here, with the service still referenced: its teardown (GRDB
            // unregistering from NotificationCenter, 1.2 M instructions on first use) buys
            // nothing now that shutdown closed the files and handlers.
            withExtendedLifetime(service) { Glibc.exit(0) }
        }
    }
}
