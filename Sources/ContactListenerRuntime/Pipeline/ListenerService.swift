import ContactListenerKit
import ListenerSupport
import Logging

/// Everything one running listener owns: the pipeline, the handlers and, when configured,
/// the spool and its dispatcher. FastCGI, CGI and the CLI build it the same way.
package final class ListenerService: Sendable {
    /// The request pipeline.
    package let pipeline: RequestPipeline
    /// The configured handlers.
    package let handlers: [any ContactHandler]
    /// The spool, when configured.
    package let spool: Spool?
    /// The dispatcher over the spool, when configured.
    package let dispatcher: Dispatcher?
    /// Where replays are recognised without a spool.
    private let replayGuard: ReplayGuard?

    /// Builds the handlers, opens the spool and wires the pipeline for `configuration`.
    /// `board` is the status page's (nil where no process stays to serve it: CGI, `drain`).
    package init(configuration: ListenerConfiguration, registry: HandlerRegistry, logger: Logger, board: StatusBoard?) throws(ConfigurationError) {
        let handlers = try registry.makeHandlers(configuration.handlers)
        self.handlers = handlers
        if let spoolConfiguration = configuration.spool {
            let spool: Spool
            do {
                spool = try Spool(configuration: spoolConfiguration, handlerNames: handlers.map(\.name))
            } catch {
                handlers.forEach { $0.close() }
                throw ConfigurationError(
                    file: configuration.source, line: nil, key: "spool.path",
                    reason: "can't open the spool \(spoolConfiguration.path): \(error); check the folder exists and is writable")
            }
            let dispatcher = Dispatcher(spool: spool, handlers: handlers, logger: logger, owner: RequestIDGenerator().next(), rates: configuration.rates)
            self.spool = spool
            self.dispatcher = dispatcher
            replayGuard = nil
            let sink = SpoolSink(writer: SpoolWriter(spool: spool)) { dispatcher.notify() }
            pipeline = RequestPipeline(configuration: configuration, sink: sink, logger: logger, spool: spool, board: board)
        } else {
            spool = nil
            dispatcher = nil
            var sink: any EventSink = DirectSink(handlers: HandlerSet(handlers))
            var replayGuard: ReplayGuard? = nil
            if let dedup = configuration.dedup {
                do {
                    let opened = try ReplayGuard(path: dedup.path, window: dedup.window)
                    sink = GuardedSink(direct: DirectSink(handlers: HandlerSet(handlers)), replayGuard: opened, logger: logger)
                    replayGuard = opened
                } catch {
                    handlers.forEach { $0.close() }
                    throw ConfigurationError(
                        file: configuration.source, line: nil, key: "dedup.path",
                        reason: "can't open \(dedup.path), where replays are recognised without a spool: \(error); make its folder writable for this user, or set dedup.path (or a spool) to a file it can write")
                }
            }
            self.replayGuard = replayGuard
            pipeline = RequestPipeline(configuration: configuration, sink: sink, logger: logger, board: board)
        }
    }

    /// Starts background delivery (FastCGI mode); pending work resumes at once. Without a
    /// spool, the replay guard's settles then wait for the next transaction (a long-lived
    /// process flushes them; a CGI process, which never calls this, writes each at once).
    package func start() throws {
        try dispatcher?.start()
        try replayGuard?.deferSettles()
    }

    /// Delivers what is due for at most `milliseconds` (CGI mode after answering, `drain`).
    @discardableResult
    package func drain(milliseconds: Int64) -> Int {
        dispatcher?.drain(until: Timestamp.monotonicNanoseconds() + UInt64(max(0, milliseconds)) * 1_000_000) ?? 0
    }

    /// Stops delivery and closes the handlers, the spool and the replay guard.
    package func shutdown() {
        dispatcher?.stop()
        handlers.forEach { $0.close() }
        spool?.close()
        replayGuard?.close()
    }
}
