import ContactListenerKit
import ContactListenerRuntime
import ListenerSupport
import ListenerSupport
import ArgumentParser
import Logging
#if canImport(Glibc)
import Glibc
#endif

extension ContactListener {
    /// `contact-listener serve`: the multi-threaded FastCGI listener.
    package struct Serve: ParsableCommand {
        /// Help for `serve`.
        package static let configuration = CommandConfiguration(
            abstract: "Serve FastCGI requests from nginx or Apache until SIGTERM.",
            discussion: """
                Point the web server at the socket: nginx `fastcgi_pass unix:/run/contact-listener/listener.sock;` \
                or Apache `SetHandler "proxy:unix:/run/contact-listener/listener.sock|fcgi://localhost/"` \
                (deploy/ has complete, commented recipes).

                Without --listen and without `listen:` in the config, the socket handed over on \
                fd 0 (spawn-fcgi, mod_fcgid) or by systemd socket activation is used.

                SIGTERM or SIGINT: stop accepting, answer the requests in flight, exit 0.
                """)

        @Option(name: .long, help: ArgumentHelp("The configuration file.", valueName: "file"))
        var config: String?

        @Option(name: .long, help: ArgumentHelp("unix:/path/to.sock, HOST:PORT or :PORT (loopback); overrides `listen:`.", valueName: "address"))
        var listen: String?

        @Option(name: .long, help: ArgumentHelp("Worker threads (default 16, or `threads:`); each serves one request at a time.", valueName: "n"))
        var threads: Int?

        /// Creates the command (ArgumentParser needs it).
        package init() {}

        /// Runs `serve`.
        package func run() throws {
            let status = Self.run(configPath: config, listen: listen, threads: threads, environment: ProcessEnvironment.current)
            if status != 0 { throw ExitCode(status) }
        }

        /// Serves until stopped; returns the exit status.
        static func run(configPath: String?, listen: String?, threads: Int?, environment: [String: String]) -> Int32 {
            // Before any thread exists, so every thread inherits the mask (see SignalWaiter).
            SignalWaiter.blockHandledSignals()
            let overrides = { (configuration: inout ListenerConfiguration) throws(ConfigurationError) in
                if let listen {
                    guard let address = ListenAddress(listen) else {
                        throw ConfigurationError(file: "--listen", line: nil, key: "", reason: "expected unix:/path/to.sock or HOST:PORT, got '\(listen)'")
                    }
                    configuration.listen = address
                }
                if let threads {
                    guard (1...1024).contains(threads) else {
                        throw ConfigurationError(file: "--threads", line: nil, key: "", reason: "must be between 1 and 1024")
                    }
                    configuration.threads = threads
                }
            }
            let service: ListenerService
            do {
                // The status page's board outlives reloads: counts and the start time stay.
                service = try Runtime.makeService(configPath: configPath, environment: environment, board: StatusBoard(), adjust: overrides)
            } catch {
                Runtime.complain("\(error)")
                return ExitStatus.configuration
            }
            let configuration = service.pipeline.configuration
            let logger = Logger(label: "contact-listener")
            let fd: Int32
            let described: String
            if let address = configuration.listen {
                do {
                    fd = try ListenSocket.open(address, mode: configuration.socketMode, group: configuration.socketGroup)
                } catch {
                    Runtime.complain(error.description)
                    service.shutdown()
                    return ExitStatus.systemError
                }
                described = address.description
            } else if let inherited = ListenSocket.inherited(environment: environment) {
                fd = inherited
                described = "inherited socket on fd \(inherited)"
            } else {
                Runtime.complain("no socket to listen on: pass --listen unix:/path/to.sock (or 127.0.0.1:9000), set `listen:` in the config, or start me from spawn-fcgi or systemd")
                service.shutdown()
                return ExitStatus.usage
            }
            let services = ServiceHolder(service)
            let server = FastCGIServer(listenFD: fd, threads: configuration.threads, services: services, logger: logger)
            logger.info("listening", metadata: [
                "on": .string(described), "threads": .stringConvertible(configuration.threads),
                "config": .string(configuration.source),
                "handlers": .string(configuration.handlers.map { "\($0.name)(\($0.type))" }.joined(separator: ",")),
                "spool": .string(configuration.spool?.path ?? "off"),
            ])
            let runner: WorkerThread
            do {
                try service.start()
                runner = try WorkerThread {
                    do { try server.run() } catch { logger.critical("FastCGI failed", metadata: ["error": .string("\(error)")]) }
                }
            } catch {
                Runtime.complain("\(error)")
                service.shutdown()
                return ExitStatus.systemError
            }
            signals: while true {
                let signal = SignalWaiter.next()
                switch signal {
                case SIGTERM, SIGINT:
                    logger.info("stopping: answering requests in flight", metadata: ["signal": .stringConvertible(signal)])
                    server.stop()
                    break signals
                case SIGHUP:
                    reload(services, configPath: configPath, environment: environment, overrides: overrides, logger: logger)
                case SIGUSR1:
                    if let logFile = services.service.pipeline.configuration.logFile {
                        do { try LineLogHandler.redirectStandardError(to: logFile) } catch {
                            logger.error("can't reopen the log file", metadata: ["error": .string("\(error)")])
                        }
                        logger.info("log file reopened", metadata: ["path": .string(logFile)])
                    }
                default:
                    continue
                }
            }
            runner.join()
            services.service.shutdown()
            if case .unix(let path) = configuration.listen { unlink(path) }
            logger.info("stopped")
            return 0
        }

        /// SIGHUP: re-read the configuration and swap handlers, rules and limits without
        /// dropping a request. A bad configuration is logged and the running one stays.
        static func reload(
            _ services: ServiceHolder, configPath: String?, environment: [String: String],
            overrides: (inout ListenerConfiguration) throws(ConfigurationError) -> Void, logger: Logger
        ) {
            let old = services.service.pipeline.configuration
            let fresh: ListenerService
            do {
                fresh = try Runtime.makeService(
                    configPath: configPath, environment: ProcessEnvironment.current.merging(environment) { current, _ in current },
                    board: services.service.pipeline.board, adjust: overrides)
            } catch {
                logger.error("reload refused: the configuration is invalid; the running one stays", metadata: ["error": .string("\(error)")])
                return
            }
            let new = fresh.pipeline.configuration
            if new.listen != old.listen || new.threads != old.threads || new.socketMode != old.socketMode || new.socketGroup != old.socketGroup {
                logger.notice("listen, threads and socket settings change only on restart; the rest is reloaded")
            }
            let previous = services.replace(with: fresh)
            previous.shutdown()
            do {
                try fresh.start()
            } catch {
                logger.error("reload: delivery could not start", metadata: ["error": .string("\(error)")])
            }
            logger.info("reloaded", metadata: [
                "config": .string(new.source),
                "handlers": .string(new.handlers.map { "\($0.name)(\($0.type))" }.joined(separator: ",")),
            ])
        }
    }
}
